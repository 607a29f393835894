import assert from 'node:assert/strict'
import { DEFAULT_C, DEFAULT_MIN_RELAY_COST } from '../../src/balance/index.js'
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync, readlinkSync, statSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { REPO, cleanup, cli, query, skipUnlessNobodyReads, tmpDir, until } from '../helpers/node.js'
import { processesMatching } from '../helpers/run.js'
import { createNamespaceCluster, namespaceSupport, removeStaleClusters, type NamespaceCluster, type NamespaceNode } from '../../src/cluster/index.js'
import { cgroupExists, detectCgroups, quotaText, CPU_PERIOD_US } from '../../src/cluster/cgroup.js'

// the daemons run with the default hop cost; a value passed on through B loses the relay cost
const C = DEFAULT_C
const RELAY = Math.max(DEFAULT_C, DEFAULT_MIN_RELAY_COST)
const CLUSTER_CLI = join(REPO, 'dist/src/cluster/cli.js')

function neighbour (status: any, id: string): any {
  return status.neighbours.find((n: any) => n.id === id)
}

/** running (a zombie waiting for init to reap it is not) */
function alive (pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'))
  } catch {
    return false
  }
}

const namespaces = (): string[] => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map(l => l.split(' ')[0]).filter(l => l !== '')
const hostLinks = (): string[] => execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' }).split('\n').map(l => l.split(': ')[1]?.split('@')[0]).filter(l => l != null)

/** Nothing of run `run` is left: namespaces (hence bridge and veths), links, cgroups, processes, files. */
async function assertGone (run: string, dir: string, pids: number[]): Promise<void> {
  assert.deepEqual(namespaces().filter(ns => ns.startsWith(`kappa-${run}-`)), [], 'namespaces left')
  assert.deepEqual(hostLinks().filter(l => l === 'kappa-br' || /^veth-[a-z]$/.test(l)), [], 'bridge or veth in the host namespace')
  const layout = detectCgroups()
  assert.ok(layout != null)
  assert.equal(cgroupExists(layout, `kappa-${run}`), false, 'cgroup directory left')
  // a process killed by a teardown in an exiting owner may take a moment to be reaped by init
  await until('the run\'s processes to be gone', async () => pids.filter(alive).length === 0 || undefined, 3000).catch(() => {})
  assert.deepEqual(pids.filter(alive), [], 'daemon processes left')
  assert.deepEqual((await processesMatching(dir)).filter(alive), [], 'processes of the run left')
  assert.equal(existsSync(dir), false, 'temp directory left')
}

describe('namespace cluster (root: network namespaces, bridge, veths, cgroup CPU quotas)', function () {
  this.timeout(60_000)
  let cluster: NamespaceCluster | undefined
  let clusterCli: ChildProcess | undefined

  before(async function () {
    const why = await namespaceSupport()
    if (why != null) {
      console.log(`      skipped: the namespace cluster ${why}`)
      this.skip()
    }
  })

  afterEach(async () => {
    await cluster?.stop()
    cluster = undefined
    if (clusterCli != null && clusterCli.exitCode == null && clusterCli.signalCode == null) {
      // SIGTERM runs the CLI's teardown; a SIGKILLed owner leaves leftovers that removeStaleClusters finds
      clusterCli.kill('SIGTERM')
      const exited = await Promise.race([new Promise(resolve => clusterCli?.once('exit', () => { resolve(true) })), new Promise(resolve => setTimeout(() => { resolve(false) }, 10_000))])
      if (exited !== true) {
        clusterCli.kill('SIGKILL')
        await new Promise(resolve => clusterCli?.once('exit', resolve))
        await removeStaleClusters()
      }
    }
    clusterCli = undefined
    await cleanup()
  })

  it('A–B–C with own IPs and quotas: A sees C\'s value through B, cutting B\'s link drops B after 3 × delay of silence, stop() leaves nothing', async () => {
    const delay = 200
    cluster = await createNamespaceCluster({
      nodes: [{ name: 'a', cpus: 1, metricOverride: 37 }, { name: 'b', cpus: 1, metricOverride: 60 }, { name: 'c', cpus: 0.25, metricOverride: 148 }],
      links: [['a', 'b'], ['b', 'c']],
      delayMs: delay
    })
    const { run, dir } = cluster
    const [a, b, c] = cluster.nodes

    // distinct IPs in the run's /24, each alone on its namespace's eth0, listening on it at 4747
    assert.equal(new Set(cluster.nodes.map(n => n.ip)).size, 3)
    const prefix = cluster.subnet.replace(/\.0\/24$/, '.')
    for (const node of cluster.nodes) {
      assert.ok(node.ip.startsWith(prefix) && node.ip.startsWith('10.'), `${node.ip} in ${cluster.subnet}`)
      assert.equal(node.ns, `kappa-${run}-${node.name}`)
      const addrs = (await node.exec(['ip', '-4', '-o', 'addr', 'show'])).stdout
      assert.deepEqual([...addrs.matchAll(/inet (\S+)\//g)].map(m => m[1]).sort(), ['127.0.0.1', node.ip].sort())
      assert.ok(node.addrs.includes(`/ip4/${node.ip}/tcp/4747/p2p/${node.id}`), node.addrs.join(' '))
    }

    // each daemon, and anything run with exec(), is in the node's namespace and cgroup (v1: cpu and
    // cpuacct): the daemon in its `daemon` part, commands in its `user` part, as a systemd service and a session
    const layout = cluster.cgroups.layout
    for (const node of cluster.nodes) {
      const pid = node.daemon.pid as number
      assert.equal(readlinkSync(`/proc/${pid}/ns/net`), `net:[${statSync(`/run/netns/${node.ns}`).ino}]`)
      const own = (await node.exec(['cat', '/proc/self/cgroup'])).stdout
      for (const [text, part] of [[readFileSync(`/proc/${pid}/cgroup`, 'utf8'), 'daemon'], [own, 'user']]) {
        const path = `${node.cgroup.path}/${part}`
        if (layout.version === 2) assert.match(text, new RegExp(`^0::/${path}$`, 'm'))
        else {
          assert.match(text, new RegExp(`^\\d+:(?:[\\w,]*,)?cpu(?:,[\\w,]*)?:/${path}$`, 'm'))
          if (layout.cpuacct != null) assert.match(text, new RegExp(`^\\d+:cpuacct:/${path}$`, 'm'))
        }
      }
      assert.ok((await node.cgroup.pids()).includes(pid))
      const quota = readFileSync(node.cgroup.quotaFile, 'utf8').trim()
      assert.equal(quota, layout.version === 2 ? `${node.cgroup.cpus * CPU_PERIOD_US} ${CPU_PERIOD_US}` : String(node.cgroup.cpus * CPU_PERIOD_US))
    }
    // the quota bites: a busy loop on C (a quarter of a CPU) gets throttled by the kernel
    const stat = (): number => Number(/nr_throttled (\d+)/.exec(readFileSync(join(c.cgroup.dir, 'cpu.stat'), 'utf8'))?.[1])
    const throttledBefore = stat()
    await c.exec(['sh', '-c', 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done'])
    assert.ok(stat() > throttledBefore, 'C\'s busy loop was never throttled')

    // paired as a chain by invite lines: A–B, B–C, not A–C
    const connected = async (n: NamespaceNode): Promise<string[]> => (await n.json(['peers'])).filter((p: any) => p.connected === true).map((p: any) => p.alias).sort()
    assert.deepEqual(await connected(a), ['b'])
    assert.deepEqual(await connected(b), ['a', 'c'])
    assert.deepEqual(await connected(c), ['b'])

    // C's value reaches A through B: 148 − relay − c
    // (polled from here over A's control socket; the CLI in A's namespace answers once it is there)
    const viaB = await until('A to see C\'s value through B', async () => {
      const n = neighbour(await query(a.home, 'status'), b.id)
      return n?.dismetric === 148 - RELAY - C && n.live === true ? n : undefined
    }, 60_000, 50)
    assert.equal(viaB.advertised, 148 - RELAY)
    assert.equal(neighbour(await a.json(['status']), b.id)?.dismetric, 148 - RELAY - C)

    // cut B off at the bridge: no FIN, no RST, its gossip just stops arriving
    await b.cutLink()
    assert.match(execFileSync('ip', ['-n', cluster.hub, '-o', 'link', 'show', b.veth], { encoding: 'utf8' }), /state DOWN/)
    // no wall-clock budget: A's own clock decides, and it must not drop B before 3 delays of silence
    const dropped = await until('A to drop B', async () => {
      const view = neighbour(await query(a.home, 'status'), b.id)
      return view?.live === false ? view : undefined
    }, 60_000, 50)
    assert.ok(dropped.lastSeenMs >= 3 * delay, `B dropped after ${String(dropped.lastSeenMs)} ms of silence`)
    assert.equal((await a.json(['probe'])).local, true)

    // and back: B's gossip reaches A again
    await b.restoreLink()
    await until('B live again on A', async () => neighbour(await query(a.home, 'status'), b.id)?.live === true, 20_000, 100)

    const pids = cluster.nodes.map(n => n.daemon.pid as number)
    await cluster.stop()
    await assertGone(run, dir, pids)
    await cluster.stop() // idempotent
  })

  it('a target counts the job it runs (in a job cgroup under its own), and its neighbour hears it busy, then free again', async function () {
    this.timeout(180_000)
    // B samples once a minute: between samples it reads its runnable processes afresh for a probe,
    // a status, and each republication of its placement hint (every message from A, here every 500 ms)
    cluster = await createNamespaceCluster({
      nodes: [{ name: 'a', cpus: 1 }, { name: 'b', cpus: 0.5, args: ['--metric-interval', '60000'] }],
      links: [['a', 'b']],
      delayMs: 500
    })
    const [a, b] = [cluster.node('a'), cluster.node('b')]
    const seenAtA = async (): Promise<number | undefined> => neighbour(await a.json(['status']), b.id)?.sysmetric
    const idle = await until('A to hear B', seenAtA, 30_000)
    // busy for 30 s of wall time whatever the machine's speed: a count of steps that ran out while a
    // loaded machine was still starting the status calls left A no window to hear B busy in
    const job = a.cli(['run', '--peer', 'b', '--', 'sh', '-c', 'end=$(($(date +%s) + 30)); while [ "$(date +%s)" -lt "$end" ]; do i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; done'], { timeoutMs: 150_000 })
    // B's own reading shows the job once it no longer counts as promised (pending): it runs in a
    // job cgroup nested under B's daemon's, under B's quota (a status reads B's processes afresh)
    await until('B to count its running job', async () => {
      const s = await b.json(['status'])
      return (s.metric?.pending === 0 && s.sysmetric < idle - 10) || undefined
    }, 60_000)
    const busy = await until('A to hear that B is busy', async () => { const v = await seenAtA(); return v != null && v < idle - 10 ? v : undefined }, 30_000)
    const r = await job
    assert.equal(r.code, 0, r.stderr)
    // a minute before B's next sample
    // (a reading may catch the job's teardown, a moment of load: wait for a reading without it)
    await until(`A to hear that B has room again (idle ${idle}, busy ${busy})`, async () => { const v = await seenAtA(); return v != null && v >= idle - 5 ? v : undefined }, 40_000)
  })

  it('npm run cluster: prints each node\'s IP, peer id and commands, works, and Ctrl-C removes everything', async () => {
    clusterCli = spawn(process.execPath, [CLUSTER_CLI, 'up', '--delay', '200', '--metric-override', 'a=37,b=60,c=148', '--cpus', 'a=0.5'], { stdio: ['ignore', 'pipe', 'pipe'] })
    const proc = clusterCli
    let stdout = ''
    let stderr = ''
    proc.stderr?.on('data', (d) => { stderr += String(d) })
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`no banner within 30 s: ${stdout}${stderr}`)) }, 30_000)
      proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`exited ${String(code)}: ${stderr}`)) })
      createInterface({ input: proc.stdout! }).on('line', (line) => {
        stdout += line + '\n'
        if (/Ctrl-C stops the cluster/.test(line)) { clearTimeout(timer); resolve() }
      })
    })
    const run = /kappa test cluster (\S+):/.exec(stdout)?.[1] as string
    assert.ok(run != null, stdout)
    assert.deepEqual(namespaces().filter(ns => ns.startsWith(`kappa-${run}-`)).sort(), ['a', 'b', 'c', 'hub'].map(n => `kappa-${run}-${n}`))
    const rows = ['a', 'b', 'c'].map(name => new RegExp(`^${name}\\s+(10\\.\\d+\\.\\d+\\.\\d+)\\s+(\\S+)\\s+.*?(12D3KooW\\w+)`, 'm').exec(stdout))
    assert.ok(rows.every(r => r != null), stdout)
    assert.equal(new Set(rows.map(r => r?.[1])).size, 3)
    assert.equal(rows[0]?.[2], '0.5')
    // the printed status command works, and shows C's value through B
    const home = /status --home (\S+)/.exec(stdout)?.[1] as string
    const dir = home.replace(/\/homes\/a$/, '')
    await until('A to see C through B', async () => (await query(home, 'status')).neighbours[0]?.dismetric === 148 - RELAY - C, 10_000, 100)
    const r = await cli(['status', '--home', home, '--json'])
    assert.equal(r.code, 0, r.stderr)
    const status = JSON.parse(r.stdout)
    assert.equal(status.neighbours[0]?.dismetric, 148 - RELAY - C)
    assert.equal(status.neighbours[0].alias, 'b')
    assert.equal(status.id, rows[0]?.[3])
    // the printed enter script runs a command on A: its namespace, its cgroup
    const enter = new RegExp(`(\\S+/bin/a) \\S+ run --home ${home} -- `).exec(stdout)?.[1] as string
    const onA = execFileSync(enter, ['sh', '-c', 'ip -4 -o addr show dev eth0; cat /proc/self/cgroup'], { encoding: 'utf8' })
    assert.ok(onA.includes(`inet ${rows[0]?.[1] as string}/24`), onA)
    assert.ok(onA.includes(`/kappa-${run}/a`), onA)

    const pids = (await processesMatching(dir))
    assert.ok(pids.length >= 3)
    proc.kill('SIGINT')
    const code = await new Promise(resolve => proc.once('exit', (c) => { resolve(c) }))
    assert.equal(code, 0, stderr)
    await assertGone(run, dir, pids)
  })

  it('a failed start-up, SIGINT or SIGHUP to the owner, and process.exit() of the owner all leave nothing behind', async function () {
    // four clusters one after another: 24–38 s on this machine, 38 s under stress-ng (a hang guard, not a budget)
    this.timeout(300_000)
    // a node whose daemon cannot start: create() fails and removes what it made
    await assert.rejects(createNamespaceCluster({ nodes: [{ name: 'a' }, { name: 'b', args: ['--no-such-flag'] }], links: [['a', 'b']] }), /node b/)
    assert.deepEqual(namespaces().filter(ns => ns.startsWith(`kappa-${process.pid}`)), [])
    assert.ok(!existsSync(join(detectCgroups()?.version === 2 ? (detectCgroups() as any).root : (detectCgroups() as any).cpu, `kappa-${process.pid}`)))

    // an owner that is interrupted, or exits without stop(): the library's handlers tear down
    const index = join(REPO, 'dist/src/cluster/index.js')
    for (const ending of ['SIGINT', 'SIGHUP', 'exit'] as const) {
      const script = `const m = await import(${JSON.stringify(index)});
        const c = await m.createNamespaceCluster({ nodes: [{ name: 'a', metricOverride: 50 }, { name: 'b', metricOverride: 60 }], links: [['a', 'b']], delayMs: 200 });
        console.log(JSON.stringify({ run: c.run, dir: c.dir, pids: c.nodes.map(n => n.daemon.pid) }));
        ${ending === 'exit' ? "process.stdin.once('data', () => { process.exit(3) })" : ''}`
      // the 'exit' owner exits when told: exiting right after its line raced the check below (its teardown had begun)
      const owner = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'pipe'] })
      let stderr = ''
      owner.stderr.on('data', (d) => { stderr += String(d) })
      const exit = new Promise<[number | null, string | null]>(resolve => owner.once('exit', (code, signal) => { resolve([code, signal]) }))
      const started = await new Promise<any>((resolve, reject) => {
        createInterface({ input: owner.stdout }).once('line', (line) => { resolve(JSON.parse(line)) })
        owner.once('exit', () => { reject(new Error(`owner exited early: ${stderr}`)) })
      })
      assert.deepEqual(namespaces().filter(ns => ns.startsWith(`kappa-${started.run as string}-`)).sort(), ['a', 'b', 'hub'].map(n => `kappa-${started.run as string}-${n}`))
      if (ending === 'exit') owner.stdin.write('\n')
      else owner.kill(ending)
      const [code, signal] = await exit
      if (ending !== 'exit') assert.equal(signal, ending, 'the owner dies of the signal after the teardown, as it would have without us')
      else assert.equal(code, 3)
      await assertGone(started.run, started.dir, started.pids)
    }
  })

  it('npm run cluster as a normal user: one clear line, exit 1', async function () {
    skipUnlessNobodyReads(this, CLUSTER_CLI)
    let out: { status: number | null, stderr: string }
    try {
      execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, CLUSTER_CLI, 'up'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
      out = { status: 0, stderr: '' }
    } catch (err: any) {
      if (err.code === 'ENOENT') {
        console.log('      skipped: setpriv (util-linux) is not installed')
        this.skip()
      }
      out = { status: err.status, stderr: String(err.stderr) }
    }
    assert.equal(out.status, 1)
    assert.equal(out.stderr.trim().split('\n').length, 1, out.stderr)
    assert.match(out.stderr, /needs root/)
  })
})

describe('cgroup layouts (v1 split, v1 combined, v2, hybrid)', function () {
  afterEach(cleanup)

  const mountsFile = async (dir: string, lines: string[]): Promise<string> => {
    const file = join(dir, 'mounts')
    await writeFile(file, lines.map(l => `${l} 0 0`).join('\n') + '\n')
    return file
  }

  it('finds the cpu controller where the kernel put it, and writes the quota in that version\'s format', async () => {
    const dir = await tmpDir('kappa-cgroup-')
    const v2root = join(dir, 'unified')
    await mkdir(v2root)
    await writeFile(join(v2root, 'cgroup.controllers'), 'cpuset cpu io memory pids\n')
    const hybridRoot = join(dir, 'hybrid')
    await mkdir(hybridRoot)
    await writeFile(join(hybridRoot, 'cgroup.controllers'), '\n')

    // v1 with cpuacct as its own hierarchy (this CI machine)
    assert.deepEqual(detectCgroups(await mountsFile(dir, [
      'tmpfs /sys/fs/cgroup tmpfs rw,mode=755',
      'cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu',
      'cgroup /sys/fs/cgroup/cpuacct cgroup rw,relatime,cpuacct',
      `cgroup2 ${hybridRoot} cgroup2 rw,relatime`
    ])), { version: 1, cpu: '/sys/fs/cgroup/cpu', cpuacct: '/sys/fs/cgroup/cpuacct' })
    // v1 with cpu and cpuacct co-mounted: one directory does both
    assert.deepEqual(detectCgroups(await mountsFile(dir, [
      'cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,nosuid,nodev,noexec,relatime,cpu,cpuacct'
    ])), { version: 1, cpu: '/sys/fs/cgroup/cpu,cpuacct', cpuacct: undefined })
    // v2 only
    const v2 = detectCgroups(await mountsFile(dir, [`cgroup2 ${v2root} cgroup2 rw,nosuid,nodev,noexec,relatime,nsdelegate`]))
    assert.deepEqual(v2, { version: 2, root: v2root })
    // a cgroup2 mount that does not offer cpu, and no v1 cpu hierarchy: no quotas possible
    assert.equal(detectCgroups(await mountsFile(dir, [`cgroup2 ${hybridRoot} cgroup2 rw`])), undefined)

    assert.equal(quotaText({ version: 1, cpu: '/x' }, 0.25), '25000')
    assert.equal(quotaText({ version: 2, root: '/x' }, 0.5), `50000 ${CPU_PERIOD_US}`)
    assert.equal(quotaText({ version: 2, root: '/x' }, 2), `200000 ${CPU_PERIOD_US}`)
  })
})
