import { Rng } from './rng.js'

/** Overlay graphs the simulator knows how to build. */
export type TopologySpec =
  | { kind: 'chain', n: number }
  | { kind: 'random-regular', n: number, degree: number }
  | { kind: 'small-world', n: number, k: number, beta: number }
  | { kind: 'edges', n: number, edges: ReadonlyArray<readonly [number, number]> }

/** Undirected simple graph in compressed sparse row form: neighbours of u are adj[offsets[u] .. offsets[u+1]). */
export interface Graph {
  n: number
  offsets: Int32Array
  adj: Int32Array
}

export function degree (g: Graph, u: number): number {
  return g.offsets[u + 1] - g.offsets[u]
}

export function describeTopology (spec: TopologySpec): string {
  switch (spec.kind) {
    case 'chain': return 'chain'
    case 'random-regular': return `random ${spec.degree}-regular`
    case 'small-world': return `small-world k=${spec.k} β=${spec.beta}`
    case 'edges': return 'custom'
  }
}

/** Collects undirected edges without duplicates or self-loops. */
class EdgeSet {
  readonly us: number[] = []
  readonly vs: number[] = []
  /** edge key → its index in us/vs */
  private readonly index = new Map<number, number>()

  constructor (private readonly n: number) {}

  private key (u: number, v: number): number {
    return u < v ? u * this.n + v : v * this.n + u
  }

  get size (): number {
    return this.us.length
  }

  has (u: number, v: number): boolean {
    return this.index.has(this.key(u, v))
  }

  add (u: number, v: number): boolean {
    if (u === v || this.has(u, v)) return false
    this.index.set(this.key(u, v), this.us.length)
    this.us.push(u)
    this.vs.push(v)
    return true
  }

  /** remove the i-th edge (the last one takes its place) */
  removeAt (i: number): void {
    const last = this.us.length - 1
    this.index.delete(this.key(this.us[i], this.vs[i]))
    if (i !== last) {
      this.us[i] = this.us[last]
      this.vs[i] = this.vs[last]
      this.index.set(this.key(this.us[i], this.vs[i]), i)
    }
    this.us.pop()
    this.vs.pop()
  }
}

function toGraph (n: number, edges: EdgeSet): Graph {
  const offsets = new Int32Array(n + 1)
  for (let i = 0; i < edges.us.length; i++) {
    offsets[edges.us[i] + 1]++
    offsets[edges.vs[i] + 1]++
  }
  for (let u = 0; u < n; u++) offsets[u + 1] += offsets[u]
  const fill = offsets.slice(0, n)
  const adj = new Int32Array(offsets[n])
  for (let i = 0; i < edges.us.length; i++) {
    const u = edges.us[i]
    const v = edges.vs[i]
    adj[fill[u]++] = v
    adj[fill[v]++] = u
  }
  return { n, offsets, adj }
}

/** Join the components of a graph by one random edge each, so every node can be reached. */
function connect (n: number, edges: EdgeSet, rng: Rng): void {
  const g = toGraph(n, edges)
  const component = new Int32Array(n).fill(-1)
  const queue = new Int32Array(n)
  const representatives: number[] = []
  for (let s = 0; s < n; s++) {
    if (component[s] >= 0) continue
    const id = representatives.length
    representatives.push(s)
    let head = 0
    let tail = 0
    queue[tail++] = s
    component[s] = id
    while (head < tail) {
      const u = queue[head++]
      for (let i = g.offsets[u]; i < g.offsets[u + 1]; i++) {
        const v = g.adj[i]
        if (component[v] < 0) { component[v] = id; queue[tail++] = v }
      }
    }
  }
  for (let i = 1; i < representatives.length; i++) {
    // Attach a random member of component i−1's side: the representative is enough.
    edges.add(representatives[i], representatives[rng.int(i)])
  }
}

export function buildTopology (spec: TopologySpec, rng: Rng): Graph {
  const n = spec.n
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`n must be a positive integer, got ${n}`)
  const edges = new EdgeSet(n)
  switch (spec.kind) {
    case 'chain':
      for (let u = 1; u < n; u++) edges.add(u - 1, u)
      return toGraph(n, edges)
    case 'edges':
      for (const [u, v] of spec.edges) {
        if (!(u >= 0 && u < n && v >= 0 && v < n)) throw new RangeError(`edge ${u}–${v} outside 0..${n - 1}`)
        edges.add(u, v)
      }
      return toGraph(n, edges)
    case 'random-regular': {
      // Configuration model: shuffle d stubs per node and pair them up. A pair
      // that would make a self-loop or a double edge (u, v) is fixed by a
      // switch: take a random edge (x, y) and replace it with (u, x), (v, y),
      // which keeps every degree. What still fails after many tries is dropped.
      const d = Math.min(spec.degree, n - 1)
      const stubs: number[] = []
      for (let u = 0; u < n; u++) for (let j = 0; j < d; j++) stubs.push(u)
      shuffle(stubs, rng)
      const left: number[] = []
      for (let i = 0; i + 1 < stubs.length; i += 2) {
        if (!edges.add(stubs[i], stubs[i + 1])) left.push(stubs[i], stubs[i + 1])
      }
      for (let i = 0; i + 1 < left.length; i += 2) {
        const u = left[i]
        const v = left[i + 1]
        for (let tries = 0; tries < 100 && edges.size > 0; tries++) {
          const e = rng.int(edges.size)
          const x = edges.us[e]
          const y = edges.vs[e]
          if (x === u || x === v || y === u || y === v || edges.has(u, x) || edges.has(v, y)) continue
          edges.removeAt(e)
          edges.add(u, x)
          edges.add(v, y)
          break
        }
      }
      connect(n, edges, rng)
      return toGraph(n, edges)
    }
    case 'small-world': {
      // Watts–Strogatz: ring lattice with k/2 neighbours on each side, each
      // lattice edge rewired to a random far end with probability beta.
      const half = Math.max(1, Math.min(Math.floor(spec.k / 2), Math.floor((n - 1) / 2)))
      for (let j = 1; j <= half; j++) {
        for (let u = 0; u < n; u++) {
          let v = (u + j) % n
          if (rng.chance(spec.beta)) {
            for (let tries = 0; tries < 10; tries++) {
              const w = rng.int(n)
              if (w !== u && !edges.has(u, w)) { v = w; break }
            }
          }
          edges.add(u, v)
        }
      }
      connect(n, edges, rng)
      return toGraph(n, edges)
    }
  }
}

function shuffle (a: number[], rng: Rng): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(i + 1)
    const t = a[i]
    a[i] = a[j]
    a[j] = t
  }
}
