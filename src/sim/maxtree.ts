/** Max over n slots with O(log n) updates and O(1) global maximum (a segment tree). */
export class MaxTree {
  private readonly size: number
  private readonly tree: Float64Array

  constructor (n: number) {
    let size = 1
    while (size < n) size *= 2
    this.size = size
    this.tree = new Float64Array(2 * size).fill(-Infinity)
  }

  set (i: number, value: number): void {
    let p = i + this.size
    this.tree[p] = value
    while (p > 1) {
      p >>= 1
      const m = Math.max(this.tree[2 * p], this.tree[2 * p + 1])
      if (this.tree[p] === m) break
      this.tree[p] = m
    }
  }

  get (i: number): number {
    return this.tree[i + this.size]
  }

  max (): number {
    return this.tree[1]
  }

  /** index of a slot holding the maximum (the leftmost), -1 when empty */
  argmax (): number {
    if (this.tree[1] === -Infinity) return -1
    let p = 1
    while (p < this.size) {
      p = this.tree[2 * p] >= this.tree[2 * p + 1] ? 2 * p : 2 * p + 1
    }
    return p - this.size
  }
}
