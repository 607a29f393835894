/**
 * Priority queue of timed events for the simulator: a binary heap whose keys
 * (time, insertion order) sit in the heap's own typed arrays, so sifting
 * walks contiguous memory, over a pool of event slots, so events cost no
 * object allocation beyond an optional payload. Ties in time pop in
 * insertion order, which keeps runs deterministic.
 */
export class EventQueue {
  // heap, position-indexed
  private heapTime: Float64Array = new Float64Array(1024)
  private heapOrder: Float64Array = new Float64Array(1024)
  private heapSlot: Int32Array = new Int32Array(1024)
  // event slots
  private kind: Uint8Array = new Uint8Array(1024)
  private a: Int32Array = new Int32Array(1024)
  private b: Int32Array = new Int32Array(1024)
  private ref: unknown[] = new Array(1024)
  private time: Float64Array = new Float64Array(1024)
  private size = 0
  private readonly free: number[] = []
  private slots = 0
  private inserted = 0

  get length (): number {
    return this.size
  }

  push (time: number, kind: number, a: number, b: number, ref?: unknown): void {
    if (this.size === this.heapTime.length) this.growHeap()
    const slot = this.allocate()
    this.kind[slot] = kind
    this.a[slot] = a
    this.b[slot] = b
    this.ref[slot] = ref
    this.time[slot] = time
    const order = this.inserted++
    const ht = this.heapTime
    const ho = this.heapOrder
    const hs = this.heapSlot
    let i = this.size++
    while (i > 0) {
      const parent = (i - 1) >> 1
      const pt = ht[parent]
      if (pt < time || (pt === time && ho[parent] < order)) break
      ht[i] = pt
      ho[i] = ho[parent]
      hs[i] = hs[parent]
      i = parent
    }
    ht[i] = time
    ho[i] = order
    hs[i] = slot
  }

  peekTime (): number {
    return this.size === 0 ? Infinity : this.heapTime[0]
  }

  /**
   * Remove the earliest event and return its slot; read it with the
   * accessors before the next push (the slot is then reused).
   */
  pop (): number {
    const ht = this.heapTime
    const ho = this.heapOrder
    const hs = this.heapSlot
    const top = hs[0]
    const n = --this.size
    const time = ht[n]
    const order = ho[n]
    const slot = hs[n]
    let i = 0
    while (true) {
      let child = 2 * i + 1
      if (child >= n) break
      const right = child + 1
      if (right < n && (ht[right] < ht[child] || (ht[right] === ht[child] && ho[right] < ho[child]))) child = right
      const ct = ht[child]
      if (time < ct || (time === ct && order < ho[child])) break
      ht[i] = ct
      ho[i] = ho[child]
      hs[i] = hs[child]
      i = child
    }
    ht[i] = time
    ho[i] = order
    hs[i] = slot
    this.free.push(top)
    return top
  }

  timeOf (slot: number): number { return this.time[slot] }
  kindOf (slot: number): number { return this.kind[slot] }
  aOf (slot: number): number { return this.a[slot] }
  bOf (slot: number): number { return this.b[slot] }
  /** the payload; the slot lets go of it */
  takeRef (slot: number): unknown {
    const r = this.ref[slot]
    this.ref[slot] = undefined
    return r
  }

  private allocate (): number {
    const reused = this.free.pop()
    if (reused != null) return reused
    if (this.slots === this.kind.length) this.growSlots()
    return this.slots++
  }

  private growHeap (): void {
    const n = this.heapTime.length * 2
    const t = new Float64Array(n); t.set(this.heapTime); this.heapTime = t
    const o = new Float64Array(n); o.set(this.heapOrder); this.heapOrder = o
    const s = new Int32Array(n); s.set(this.heapSlot); this.heapSlot = s
  }

  private growSlots (): void {
    const n = this.kind.length * 2
    const k = new Uint8Array(n); k.set(this.kind); this.kind = k
    const a = new Int32Array(n); a.set(this.a); this.a = a
    const b = new Int32Array(n); b.set(this.b); this.b = b
    const t = new Float64Array(n); t.set(this.time); this.time = t
    this.ref.length = n
  }
}
