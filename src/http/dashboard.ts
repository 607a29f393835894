/**
 * The dashboard page: plain words first (which node, how busy, which jobs
 * ran where), the paper's terms under "details". The page listens to
 * `/events` (server-sent events); when the stream breaks it says so at once
 * and greys out what it shows, rather than keep old numbers on screen.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>kappa-node</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/dashboard.css">
<script type="module" src="/dashboard.js"></script>
</head><body>
<div id="banner" class="banner" hidden></div>
<header><h1>kappa-node <span id="name"></span></h1><span id="state" class="pill">connecting…</span></header>
<main id="main">
<section id="waiting" hidden><h2>Waiting for you</h2><ul id="waiting-list"></ul></section>
<section><h2>This node</h2><dl id="node" class="facts"></dl>
<details id="node-details"><summary>details (the paper's terms)</summary><dl id="terms" class="facts"></dl></details></section>
<section><h2>Nodes</h2><p id="nodes-empty" class="muted" hidden>No paired nodes yet. To pair a machine, run <code>kappa-node invite</code> here and <code>kappa-node pair '&lt;invite line&gt;'</code> there.</p>
<div class="nodes"><svg id="graph" width="260" height="200" viewBox="0 0 260 200" role="img" aria-label="this node and its neighbours"></svg>
<table id="nodes"><thead><tr><th>name</th><th>address</th><th>connection</th><th class="num">score</th><th>last heard</th></tr></thead><tbody></tbody></table></div></section>
<section><h2>Jobs</h2><p id="jobs-empty" class="muted">No jobs yet. Start one with <code>kappa-node run -- &lt;command&gt;</code>.</p>
<table id="jobs" hidden><thead><tr><th>command</th><th>where</th><th>started</th><th class="num">time</th><th>result</th><th class="num">moved</th></tr></thead><tbody></tbody></table></section>
</main>
<footer id="footer" class="muted"></footer>
</body></html>
`

export const DASHBOARD_STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 0 auto; max-width: 1100px; padding: 0 1.5em 2em; color: #222; background: #fff }
header { display: flex; align-items: center; gap: 1em; border-bottom: 1px solid #ddd }
h1 { font-size: 1.3em; margin: .6em 0 } h1 span { color: #666; font-weight: normal }
h2 { font-size: 1.05em; margin: 1.4em 0 .4em }
.pill { border-radius: 1em; padding: .1em .8em; background: #e6f4ea; color: #1e6b34; font-size: .9em }
.pill.busy { background: #fff4d6; color: #7a5a00 } .pill.lost { background: #fde2e1; color: #8a1c14 }
.banner { background: #fde2e1; color: #8a1c14; padding: .7em 1em; margin: .8em 0; border-radius: 4px; font-weight: 600 }
.banner.info { background: #fff4d6; color: #7a5a00 }
main.stale { opacity: .45; filter: grayscale(1) }
table { border-collapse: collapse; width: 100% } td, th { padding: .3em .7em; border-bottom: 1px solid #eee; text-align: left; vertical-align: top }
th { font-weight: 600; color: #555; font-size: .9em } .num { text-align: right; font-variant-numeric: tabular-nums }
tr.off td { color: #999 } tr.running td { background: #f2f8fd }
td.cmd { font-family: ui-monospace, monospace; font-size: .92em; max-width: 28em; overflow: hidden; text-overflow: ellipsis; white-space: nowrap }
.r-ok { color: #1e6b34 } .r-bad { color: #8a1c14 } .r-run { color: #2b6cb0 }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2em 1.2em; margin: .3em 0 } .facts dt { color: #555 }
.muted { color: #777 } code { background: #f4f4f4; padding: .1em .3em; border-radius: 3px; user-select: all }
.nodes { display: flex; gap: 1.5em; align-items: flex-start } .nodes table { flex: 1 }
#waiting li { margin: .3em 0 } details { margin-top: .4em } summary { cursor: pointer; color: #555 }
svg text { font-size: 11px } footer { margin-top: 2em; font-size: .85em }
`

export const DASHBOARD_SCRIPT = `
import { formatAge, formatBytes, formatDuration, commandLine } from '/js/units.js'
import { jobWhere, jobResult, jobBytes, jobDuration } from '/js/jobs/describe.js'
import { shortId } from '/js/names.js'

const $ = (id) => document.getElementById(id)
/** an element with text children only: nothing from the node becomes markup */
function el (tag, attrs, ...children) {
  const e = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs ?? {})) if (v != null) e.setAttribute(k, v)
  for (const c of children) e.append(c instanceof Node ? c : String(c ?? ''))
  return e
}
const NS = 'http://www.w3.org/2000/svg'
function svg (tag, attrs, text) {
  const e = document.createElementNS(NS, tag)
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v))
  if (text != null) e.textContent = text
  return e
}
/** a score is never shown below zero: a far or slow node is just "low" */
const score = (v) => v == null ? '–' : String(Math.max(0, Math.round(v)))
const clock = (ms) => new Date(ms).toLocaleTimeString()

let last = null
let lastAt = 0
let lost = false

function names (s) {
  const byId = new Map(s.neighbours.map(n => [n.id, n.alias]))
  byId.set(s.node.id, s.node.alias)
  return (id) => id === s.node.id ? 'this node' : (byId.get(id) ?? shortId(id))
}

function load (m) {
  const others = Math.max(0, Math.round(m.running))
  if (others === 0) return 'idle (' + m.cores + (m.cores === 1 ? ' CPU)' : ' CPUs)')
  return others + (others === 1 ? ' program' : ' programs') + ' running on ' + m.cores + (m.cores === 1 ? ' CPU' : ' CPUs')
}

function renderNode (s) {
  const n = s.node
  $('name').textContent = (n.alias != null ? n.alias + ' ' : '') + '(' + shortId(n.id) + ')'
  const facts = []
  const m = n.metric
  if (n.state === 'benchmarking') {
    facts.push(['Speed', 'measuring the CPU… ' + (n.benchmark != null ? n.benchmark.done + ' of ' + n.benchmark.total + ' steps' : '')])
  } else if (m != null) {
    facts.push(['Speed', (m.static / 100).toFixed(2) + '× the reference machine' + (m.measuredAt != null ? ', measured ' + formatAge(s.now - m.measuredAt) : '') + (m.busyWhenMeasured ? ' (on a busy machine: will be measured again when idle)' : '')])
    facts.push(['Load', load(m)])
    facts.push(['Free for a new program', Math.round(100 * m.share) + ' % of a CPU'])
    facts.push(['Memory', formatBytes(m.memAvailableKiB * 1024) + ' free of ' + formatBytes(m.memTotalKiB * 1024)])
  }
  facts.push(['Score for placing jobs', n.sysmetric == null ? 'not known yet' : score(n.sysmetric) + (n.pinned ? ' (pinned by its owner)' : '') + ' — bigger is better; jobs go to the node with the best score'])
  facts.push(['Addresses', n.addrs.length === 0 ? 'none' : n.addrs.join('  ')])
  $('node').replaceChildren(...facts.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]))
  const terms = [
    ['sysmetric', n.sysmetric == null ? '–' : n.sysmetric.toFixed(1)],
    ['send_probe (what it gossips)', n.sendProbe == null ? '–' : n.sendProbe.toFixed(1)],
    ['c (cost per hop)', String(n.gossip.c)],
    ['gossip period', n.gossip.delayMs + ' ms' + (n.gossip.splitHorizon ? ', split horizon' : '')]
  ]
  if (m != null) {
    terms.push(['S (static score)', m.static.toFixed(1)], ['share', m.share.toFixed(3)], ['m (memory factor)', m.memFactor.toFixed(3)], ['D = 400 · share · m', m.dynamic.toFixed(1)], ['pending (promised jobs)', String(m.pending)])
  }
  for (const nb of s.neighbours) terms.push(['dismetric of ' + (nb.alias ?? shortId(nb.id)), nb.dismetric == null ? '–' : nb.dismetric.toFixed(1) + ' (advertised ' + (nb.advertised == null ? '–' : nb.advertised.toFixed(1)) + ')'])
  $('terms').replaceChildren(...terms.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]))
}

function connection (nb) {
  if (!nb.connected) return 'not connected'
  if (!nb.live) return 'connected, silent'
  return 'connected'
}

function renderNodes (s) {
  $('nodes-empty').hidden = s.neighbours.length > 0
  $('nodes').hidden = s.neighbours.length === 0
  $('graph').style.display = s.neighbours.length === 0 ? 'none' : ''
  $('nodes').tBodies[0].replaceChildren(...s.neighbours.map(nb => el('tr', { class: nb.connected && nb.live ? '' : 'off', 'data-peer': nb.id },
    el('td', { title: nb.id }, nb.alias ?? shortId(nb.id)),
    el('td', {}, nb.addrs[0] ?? '–'),
    el('td', {}, connection(nb)),
    el('td', { class: 'num' }, nb.live && nb.connected ? score(nb.dismetric) : '–'),
    el('td', {}, nb.lastSeenMs == null ? 'never' : formatAge(nb.lastSeenMs)))))
  const g = $('graph')
  const cx = 130, cy = 100, r = 72, k = s.neighbours.length
  const parts = []
  s.neighbours.forEach((nb, i) => {
    const a = 2 * Math.PI * i / Math.max(1, k) - Math.PI / 2, x = cx + r * Math.cos(a), y = cy + r * Math.sin(a)
    const on = nb.connected && nb.live
    parts.push(svg('line', { x1: cx, y1: cy, x2: x, y2: y, stroke: on ? '#2b7bb9' : '#ccc', 'stroke-dasharray': on ? '' : '4 3' }))
    parts.push(svg('circle', { cx: x, cy: y, r: 20, fill: on ? '#e8f1f8' : '#f3f3f3', stroke: on ? '#2b7bb9' : '#bbb' }))
    parts.push(svg('text', { x, y: y + 4, 'text-anchor': 'middle' }, (nb.alias ?? shortId(nb.id)).slice(0, 8)))
  })
  parts.push(svg('circle', { cx, cy, r: 24, fill: '#2b7bb9' }))
  parts.push(svg('text', { x: cx, y: cy + 4, 'text-anchor': 'middle', fill: '#fff' }, (s.node.alias ?? 'this').slice(0, 8)))
  g.replaceChildren(...parts)
}

function renderWaiting (s) {
  const items = []
  for (const r of s.requests) {
    items.push(el('li', {}, (r.alias ?? 'A node') + ' (' + shortId(r.id) + (r.addrs[0] != null ? ' at ' + r.addrs[0] : '') + ') asks to pair, ' + formatAge(s.now - r.receivedAt) + '. To accept, run: ', el('code', {}, 'kappa-node accept ' + r.id)))
  }
  for (const n of s.lan) {
    items.push(el('li', {}, 'Found kappa node ' + shortId(n.id) + ' on the LAN. To pair with it, run: ', el('code', {}, 'kappa-node pair ' + (n.addrs[0] ?? n.id))))
  }
  $('waiting').hidden = items.length === 0
  $('waiting-list').replaceChildren(...items)
}

function resultClass (job) {
  if (job.endedAt == null) return 'r-run'
  return job.outcome === 'ok' ? 'r-ok' : 'r-bad'
}

function renderJobs (s) {
  const name = names(s)
  const rows = [...s.jobs.running.map(j => [j, true]), ...s.jobs.recent.map(j => [j, false])]
  $('jobs-empty').hidden = rows.length > 0
  $('jobs').hidden = rows.length === 0
  $('jobs').tBodies[0].replaceChildren(...rows.map(([j, running]) => el('tr', { class: running ? 'running' : '', 'data-job': j.id },
    el('td', { class: 'cmd', title: commandLine(j.argv) }, commandLine(j.argv)),
    el('td', {}, jobWhere(j, name)),
    el('td', { title: new Date(j.startedAt).toString() }, formatAge(s.now - j.startedAt)),
    el('td', { class: 'num' }, formatDuration(jobDuration(j, s.now))),
    el('td', { class: resultClass(j), title: j.reason ?? '' }, running ? 'running' : jobResult(j)),
    el('td', { class: 'num' }, formatBytes(jobBytes(j))))))
}

function render (s) {
  renderNode(s)
  renderWaiting(s)
  renderNodes(s)
  renderJobs(s)
  const st = $('state')
  st.className = 'pill' + (s.node.state === 'benchmarking' ? ' busy' : '')
  st.textContent = s.node.state === 'benchmarking' ? 'benchmarking…' : 'running'
  $('footer').textContent = 'kappa-node ' + s.node.version + ' · updated ' + clock(s.now) + ' · live (server-sent events)'
}

function setLost (isLost) {
  lost = isLost
  document.body.dataset.connection = isLost ? 'lost' : 'live'
  $('main').classList.toggle('stale', isLost)
  const b = $('banner')
  b.hidden = !isLost
  if (isLost) {
    b.textContent = 'Connection to the node lost: it has stopped or cannot be reached. Retrying…' + (lastAt > 0 ? ' What you see is from ' + clock(lastAt) + '.' : '')
    const st = $('state')
    st.className = 'pill lost'
    st.textContent = 'node stopped / connection lost'
    $('footer').textContent = $('footer').textContent.replace(' · live (server-sent events)', ' · not live: reconnecting')
  }
}

const events = new EventSource('/events')
events.addEventListener('state', (e) => {
  last = JSON.parse(e.data)
  lastAt = Date.now()
  if (lost) setLost(false)
  render(last)
})
events.addEventListener('error', () => { setLost(true) })
// a stream that went quiet (a frozen or unreachable node) counts as lost too
setInterval(() => { if (!lost && lastAt > 0 && Date.now() - lastAt > 7000) setLost(true) }, 1000)
`
