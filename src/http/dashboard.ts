/** The dashboard page: plain HTML and a little script that polls /status.json. */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>kappa-node</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 2em; color: #222 }
h1 { font-size: 1.3em } table { border-collapse: collapse; margin: 1em 0 } td, th { padding: .25em .8em; border-bottom: 1px solid #ddd; text-align: left }
.num { text-align: right; font-variant-numeric: tabular-nums } .dead { color: #999 } svg text { font-size: 12px }
</style></head><body>
<h1>kappa-node <span id="name"></span></h1>
<p id="metric"></p>
<svg id="graph" width="520" height="320"></svg>
<table><thead><tr><th>neighbour</th><th>connected</th><th class="num">advertised</th><th class="num">dismetric</th><th class="num">last seen</th></tr></thead><tbody id="neighbours"></tbody></table>
<p id="jobs"></p>
<script>
const esc = s => String(s ?? '').replace(/[&<>"]/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c])
const short = id => id.length > 16 ? id.slice(0, 8) + '…' + id.slice(-6) : id
const num = (v, d = 1) => v == null ? '-' : Number(v).toFixed(d)
async function refresh () {
  const s = await (await fetch('/status.json', { cache: 'no-store' })).json()
  document.getElementById('name').textContent = (s.alias ?? '') + ' ' + short(s.id)
  const m = s.metric
  document.getElementById('metric').textContent = 'sysmetric ' + num(s.sysmetric) + (s.metricOverride != null ? ' (pinned)' : '') + ', send_probe ' + num(s.sendProbe) +
    (m ? ' — S ' + num(m.static) + ', share ' + num(m.share, 2) + ', m ' + num(m.memFactor, 2) + ', D ' + num(m.dynamic) : '')
  document.getElementById('neighbours').innerHTML = s.neighbours.map(n => '<tr class="' + (n.live ? '' : 'dead') + '"><td>' + esc(n.alias ?? short(n.id)) + '</td><td>' + (n.connected ? 'yes' : 'no') +
    '</td><td class="num">' + num(n.advertised) + '</td><td class="num">' + num(n.dismetric) + '</td><td class="num">' + (n.lastSeenMs == null ? '-' : Math.round(n.lastSeenMs) + ' ms') + '</td></tr>').join('')
  const cx = 260, cy = 160, r = 120, k = s.neighbours.length
  let svg = ''
  s.neighbours.forEach((n, i) => {
    const a = 2 * Math.PI * i / Math.max(1, k) - Math.PI / 2, x = cx + r * Math.cos(a), y = cy + r * Math.sin(a)
    svg += '<line x1="' + cx + '" y1="' + cy + '" x2="' + x + '" y2="' + y + '" stroke="' + (n.live ? '#2b7bb9' : '#ccc') + '"/>'
    svg += '<circle cx="' + x + '" cy="' + y + '" r="22" fill="' + (n.live ? '#e8f1f8' : '#f3f3f3') + '" stroke="#2b7bb9"/><text x="' + x + '" y="' + (y + 4) + '" text-anchor="middle">' + esc(n.alias ?? short(n.id).slice(0, 6)) + ' ' + num(n.dismetric, 0) + '</text>'
  })
  svg += '<circle cx="' + cx + '" cy="' + cy + '" r="28" fill="#2b7bb9"/><text x="' + cx + '" y="' + (cy + 4) + '" text-anchor="middle" fill="#fff">' + esc(s.alias ?? 'this') + ' ' + num(s.sysmetric, 0) + '</text>'
  document.getElementById('graph').innerHTML = svg
  const j = s.jobs ?? { in: [], out: [], counters: {} }
  document.getElementById('jobs').textContent = j.in.length + ' jobs running here for others, ' + j.out.length + ' sent elsewhere; ' + (j.counters.jobsIn ?? 0) + ' run here in all, ' + (j.counters.jobsOut ?? 0) + ' sent, ' + (j.counters.refused ?? 0) + ' refused'
}
refresh(); setInterval(() => refresh().catch(() => {}), 2000)
</script></body></html>
`
