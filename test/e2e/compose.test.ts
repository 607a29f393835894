import assert from 'node:assert/strict'
import { DEFAULT_C, DEFAULT_MIN_RELAY_COST } from '../../src/balance/index.js'
import { readFile, stat } from 'node:fs/promises'
import { createServer } from 'node:net'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { parse } from 'yaml'
import { multiaddr } from '@multiformats/multiaddr'
import { privateKeyFromProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { REPO, MAIN, cleanup, cli, onCleanup, startNode, tmpDir, until, type TestNode } from '../helpers/node.js'
import { parseTrustFile } from '../../src/trust/index.js'
import { chainLinks, composeAddresses, loopbackAddresses, writeClusterKeys } from '../../src/cluster/keys.js'

const SERVICES = ['a', 'b', 'c']
// the daemons run with the default hop cost; a value passed on through B loses the relay cost
const C = DEFAULT_C
const RELAY = Math.max(DEFAULT_C, DEFAULT_MIN_RELAY_COST)

async function composeFile (): Promise<any> {
  return parse(await readFile(join(REPO, 'docker-compose.yml'), 'utf8'), { merge: true })
}

/** `FROM`, `ENV`, `ENTRYPOINT` … of the Dockerfile, continuation lines joined. */
async function dockerfile (): Promise<Array<[string, string]>> {
  const text = (await readFile(join(REPO, 'Dockerfile'), 'utf8')).replace(/\\\n/g, ' ')
  return text.split('\n').map(l => l.trim()).filter(l => l !== '' && !l.startsWith('#')).map(l => {
    const i = l.indexOf(' ')
    return [l.slice(0, i).toUpperCase(), l.slice(i + 1).trim()]
  })
}

/** host and TCP port of a multiaddr (validated by the real parser first) */
function hostPort (address: string): { host: string, port: number } {
  const m = /^\/(?:ip4|ip6|dns4|dns6|dns)\/([^/]+)\/tcp\/(\d+)(?:\/|$)/.exec(multiaddr(address).toString())
  if (m == null) throw new Error(`${address} is not a TCP address`)
  return { host: m[1], port: Number(m[2]) }
}

function option (command: string[], name: string): string | undefined {
  const i = command.indexOf(name)
  return i >= 0 ? command[i + 1] : undefined
}

/** KAPPA_HOME inside a service: its own environment, else the Dockerfile's ENV. */
async function kappaHome (service: any): Promise<string | undefined> {
  const env = service.environment
  const fromService = Array.isArray(env) ? env.find((e: string) => e.startsWith('KAPPA_HOME='))?.slice('KAPPA_HOME='.length) : env?.KAPPA_HOME
  if (fromService != null) return String(fromService)
  const line = (await dockerfile()).find(([k, v]) => k === 'ENV' && /^KAPPA_HOME[= ]/.test(v))
  return line?.[1].replace(/^KAPPA_HOME[= ]\s*/, '')
}

async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port
      server.close(() => { resolve(port) })
    })
  })
}

describe('docker-compose cluster (file invariants) and its pre-paired keys', function () {
  this.timeout(60_000)
  afterEach(cleanup)

  it('services a, b, c from one Node >= 22 image, each with cpus, its own keys dir as KAPPA_HOME, listening on 4747', async () => {
    const compose = await composeFile()
    assert.deepEqual(Object.keys(compose.services).sort(), SERVICES)
    const steps = await dockerfile()
    const from = steps.find(([k]) => k === 'FROM')?.[1] ?? ''
    const major = /^node:(\d+)/.exec(from)?.[1]
    assert.ok(major != null && Number(major) >= 22, `Dockerfile FROM ${from}: needs Node >= 22`)
    assert.ok(steps.some(([k, v]) => k === 'RUN' && /\bnpm ci\b/.test(v)), 'the image installs the project with npm ci')
    assert.ok(steps.some(([k, v]) => k === 'RUN' && /\bbubblewrap\b/.test(v)), 'the image installs bubblewrap')
    const entrypoint = steps.find(([k]) => k === 'ENTRYPOINT')?.[1] ?? ''
    for (const name of SERVICES) {
      const service = compose.services[name]
      assert.ok(typeof service.cpus === 'number' && service.cpus > 0, `${name}: cpus`)
      assert.ok(service.build != null || service.image != null, `${name}: an image`)
      const home = await kappaHome(service)
      assert.ok(home != null, `${name}: KAPPA_HOME`)
      const mounts = (service.volumes as string[]).map(v => v.split(':'))
      assert.deepEqual(mounts.filter(([, target]) => target === home), [[`./keys/${name}`, home]], `${name} mounts ./keys/${name} as its KAPPA_HOME`)
      // every other service mounts a different keys dir
      for (const other of SERVICES.filter(o => o !== name)) {
        assert.ok(!(compose.services[other].volumes as string[]).some(v => v.startsWith(`./keys/${name}:`)), `${other} must not mount ${name}'s keys`)
      }
      const command: string[] = service.command
      const program = service.entrypoint ?? JSON.parse(entrypoint)
      assert.match([program].flat().join(' '), /kappa-node/, `${name}: runs kappa-node`)
      assert.equal(command[0], 'start', `${name}: kappa-node start`)
      const { host, port } = hostPort(option(command, '--listen') ?? '')
      assert.equal(host, '0.0.0.0', `${name}: listens on every interface of its container`)
      assert.equal(port, 4747, `${name}: on port 4747`)
      assert.equal(option(command, '--alias'), name)
    }
    const cpus = SERVICES.map(name => compose.services[name].cpus)
    assert.ok(new Set(cpus).size > 1, `cpus differ between services (heterogeneous speed): ${cpus.join(', ')}`)
  })

  it('the generator writes a chain a↔b, b↔c (not a↔c) dialled as /dns4/<service>/tcp/4747, with valid keys whose peer ids match', async () => {
    const compose = await composeFile()
    const dir = await tmpDir('kappa-keys-')
    // the generator as users run it (`npm run keys`), into a temp dir
    const generated = await new Promise<{ code: number | null, stdout: string, stderr: string }>((resolve) => {
      const proc = spawn(process.execPath, [join(REPO, 'dist/src/cluster/cli.js'), 'keys', '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] })
      let stdout = ''
      let stderr = ''
      proc.stdout.on('data', (d) => { stdout += String(d) })
      proc.stderr.on('data', (d) => { stderr += String(d) })
      proc.on('close', (code) => { resolve({ code, stdout, stderr }) })
    })
    assert.equal(generated.code, 0, generated.stderr)

    const ids: Record<string, string> = {}
    const trust: Record<string, ReturnType<typeof parseTrustFile>> = {}
    for (const name of SERVICES) {
      const keyFile = join(dir, name, 'identity.key')
      assert.equal((await stat(keyFile)).mode & 0o777, 0o600)
      ids[name] = peerIdFromPrivateKey(privateKeyFromProtobuf(await readFile(keyFile))).toString()
      const trustFile = join(dir, name, 'trust.json')
      assert.equal((await stat(trustFile)).mode & 0o777, 0o600)
      trust[name] = parseTrustFile(await readFile(trustFile, 'utf8'), trustFile)
      assert.equal(JSON.parse(await readFile(trustFile, 'utf8')).version, 1)
    }
    assert.equal(new Set(Object.values(ids)).size, 3)
    const pairedWith = (name: string): string[] => trust[name].map(p => p.alias ?? '?').sort()
    assert.deepEqual(pairedWith('a'), ['b'])
    assert.deepEqual(pairedWith('b'), ['a', 'c'])
    assert.deepEqual(pairedWith('c'), ['b'])
    for (const name of SERVICES) {
      for (const peer of trust[name]) {
        const alias = peer.alias as string
        assert.equal(peer.id, ids[alias], `${name}'s entry for ${alias} names ${alias}'s key`)
        assert.deepEqual(peer.addrs, [`/dns4/${alias}/tcp/4747`])
        // the address names a service of the compose file and the port its command listens on
        const { host, port } = hostPort(peer.addrs[0])
        assert.ok(compose.services[host] != null, `${host} is a compose service`)
        assert.equal(port, hostPort(option(compose.services[host].command, '--listen') ?? '').port)
      }
    }

    // a re-run keeps the identities (peer ids are what the nodes trust); --fresh replaces them
    const again = await writeClusterKeys({ dir, names: SERVICES, links: chainLinks(SERVICES), addresses: composeAddresses() })
    assert.deepEqual(Object.fromEntries(again.map(h => [h.name, h.id])), ids)
    const fresh = await writeClusterKeys({ dir, names: SERVICES, links: chainLinks(SERVICES), addresses: composeAddresses(), keepIdentities: false })
    assert.ok(fresh.every(h => h.id !== ids[h.name]))
  })

  it('bad topologies are refused with one clear line', async () => {
    const dir = await tmpDir('kappa-keys-')
    const write = async (names: string[], links: Array<[string, string]>): Promise<unknown> =>
      await writeClusterKeys({ dir, names, links, addresses: composeAddresses() })
    await assert.rejects(write(['a', 'b'], [['a', 'x']]), /unknown node/)
    await assert.rejects(write(['a', 'a'], []), /repeat/)
    await assert.rejects(write(['a'], [['a', 'a']]), /itself/)
    await assert.rejects(write(['A'], []), /bad node name/)
    await assert.rejects(write(['a', 'b'], [['a', 'b'], ['b', 'a']]), /twice/)
  })

  it('nodes started on generated homes (127.0.0.1 scheme) connect and gossip as a chain without any pairing step', async () => {
    const dir = await tmpDir('kappa-keys-')
    const ports = { a: await freePort(), b: await freePort(), c: await freePort() }
    const homes = await writeClusterKeys({ dir, names: SERVICES, links: chainLinks(SERVICES), addresses: loopbackAddresses(ports) })
    const metric = { a: 37, b: 60, c: 148 }
    const nodes: Record<string, TestNode> = {}
    await Promise.all(homes.map(async (h) => {
      const name = h.name as keyof typeof ports
      nodes[name] = await startNode(name, { home: h.home, listen: `/ip4/127.0.0.1/tcp/${ports[name]}`, args: ['--delay', '100', '--metric-override', String(metric[name])] })
      assert.equal(nodes[name].id, h.id, `${name} runs with the generated identity`)
    }))
    const { a, b, c } = nodes
    // no invite, no pair: the trust stores say who is paired, and the nodes dial each other
    await until('A to see C\'s value through B', async () => {
      const viaB = (await a.json(['status'])).neighbours.find((n: any) => n.id === b.id)
      return viaB?.live === true && viaB.dismetric === metric.c - RELAY - C
    }, 15_000, 50)
    const peersOf = async (node: TestNode): Promise<string[]> => (await node.json(['peers'])).filter((p: any) => p.connected === true).map((p: any) => p.alias).sort()
    await until('every link to be connected', async () =>
      JSON.stringify([await peersOf(a), await peersOf(b), await peersOf(c)]) === JSON.stringify([['b'], ['a', 'c'], ['b']]), 10_000, 50)
    assert.deepEqual((await a.json(['status'])).neighbours.map((n: any) => n.id), [b.id], 'A is not paired with C')
    const probe = await a.json(['probe'])
    assert.deepEqual(probe.path, [a.id, b.id, c.id])
  })

  it('the service command itself starts a node on port 4747 (in a scratch network namespace, as root)', async function () {
    if (process.getuid?.() !== 0) {
      console.log('      skipped: needs root for a scratch network namespace (0.0.0.0:4747 must not touch the host)')
      this.skip()
    }
    const compose = await composeFile()
    const dir = await tmpDir('kappa-keys-')
    await writeClusterKeys({ dir, names: SERVICES, links: chainLinks(SERVICES), addresses: composeAddresses() })
    const command: string[] = compose.services.a.command
    // `unshare --net`: a namespace of our own with only loopback, gone with the process
    const proc = spawn('unshare', ['--net', 'sh', '-c', 'ip link set lo up && exec "$@"', 'sh', process.execPath, MAIN, ...command, '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, KAPPA_HOME: join(dir, 'a') }
    })
    onCleanup(async () => {
      if (proc.exitCode == null && proc.signalCode == null) {
        proc.kill('SIGKILL')
        await new Promise(resolve => proc.once('exit', resolve))
      }
    })
    let stderr = ''
    proc.stderr.on('data', (d) => { stderr += String(d) })
    const ready = await new Promise<any>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`no ready event: ${stderr}`)) }, 30_000)
      proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`exited ${String(code)}: ${stderr}`)) })
      createInterface({ input: proc.stdout }).on('line', (line) => {
        try {
          const e = JSON.parse(line)
          if (e.type === 'ready') { clearTimeout(timer); resolve(e) }
        } catch {}
      })
    })
    assert.ok(ready.addrs.length > 0)
    for (const a of ready.addrs) assert.equal(hostPort(a).port, 4747)
    const id = JSON.parse((await cli(['id', '--home', join(dir, 'a'), '--json'])).stdout)
    assert.equal(id.alias, 'a')
    const peers = JSON.parse((await cli(['peers', '--home', join(dir, 'a'), '--json'])).stdout)
    assert.deepEqual(peers.map((p: any) => p.addrs), [['/dns4/b/tcp/4747']])
  })
})
