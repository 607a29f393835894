/**
 * Seeded pseudo-random numbers (sfc32, seeded through splitmix32): fast,
 * 32-bit integer arithmetic only, and the same sequence on every platform, so
 * a simulation is reproducible from its seed.
 */
export class Rng {
  private a: number
  private b: number
  private c: number
  private d: number

  constructor (seed: number, stream = 0) {
    let s = (Math.floor(seed) ^ Math.imul(stream + 1, 0x9e3779b9)) >>> 0
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0
      let z = s
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
      return (z ^ (z >>> 16)) >>> 0
    }
    this.a = next()
    this.b = next()
    this.c = next()
    this.d = next()
    for (let i = 0; i < 12; i++) this.u32()
  }

  u32 (): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0
    this.d = (this.d + 1) >>> 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) >>> 0
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0
    this.c = (this.c + t) >>> 0
    return t
  }

  /** uniform in [0, 1) */
  next (): number {
    return this.u32() / 4294967296
  }

  /** uniform integer in [0, n) */
  int (n: number): number {
    return Math.floor(this.next() * n)
  }

  /** uniform in [lo, hi) */
  range (lo: number, hi: number): number {
    return lo + (hi - lo) * this.next()
  }

  /** exponentially distributed with the given mean */
  exp (mean: number): number {
    return -mean * Math.log(1 - this.next())
  }

  chance (p: number): boolean {
    return this.next() < p
  }
}

/** A symmetric hash of a link, for per-link values that need no storage. */
export function linkHash (seed: number, u: number, v: number): number {
  const lo = u < v ? u : v
  const hi = u < v ? v : u
  let h = Math.imul(lo ^ seed, 0x85ebca6b) ^ Math.imul(hi + 0x165667b1, 0xc2b2ae35)
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d)
  h = Math.imul(h ^ (h >>> 12), 0x297a2d39)
  return (h ^ (h >>> 15)) >>> 0
}
