import { writeSync } from 'node:fs'

/**
 * A job's output kept back until the caller knows whether it stands (the
 * program's verdict) or the command runs again here. Past `limit` bytes it
 * is released (written out, in order) and the rest streams as usual; a
 * re-run would then repeat what was shown, so the caller does not re-run.
 */
export class HeldOutput {
  private pieces: Array<{ fd: 1 | 2, data: Buffer }> = []
  private bytes = 0
  /** written out (or never held): what follows goes straight through */
  released: boolean

  constructor (private readonly limit: number) {
    this.released = limit <= 0
  }

  /** Keep a copy (the piece lives in a reused buffer); false once released. */
  hold (fd: 1 | 2, piece: Buffer): boolean {
    if (this.released) return false
    if (this.bytes + piece.length > this.limit) {
      this.release()
      return false
    }
    this.pieces.push({ fd, data: Buffer.from(piece) })
    this.bytes += piece.length
    return true
  }

  /** Write everything held, in order (blocking writes, as the job's own output). */
  release (): void {
    this.released = true
    const pieces = this.pieces
    this.pieces = []
    for (const { fd, data } of pieces) {
      let offset = 0
      try {
        while (offset < data.length) offset += writeSync(fd, data, offset, data.length - offset)
      } catch (err: any) {
        if (err.code === 'EAGAIN') { (fd === 1 ? process.stdout : process.stderr).write(data.subarray(offset)); continue }
        return // the reader went away
      }
    }
  }

  /** The held stderr begins with this (what a failed sandbox launcher, `bwrap: …`, writes). */
  stderrStartsWith (prefix: string): string | undefined {
    const first = this.pieces.find(p => p.fd === 2)
    if (first == null) return undefined
    const text = Buffer.concat(this.pieces.filter(p => p.fd === 2).map(p => p.data)).toString('utf8')
    return text.startsWith(prefix) ? text.split('\n')[0] : undefined
  }

  /** Forget what was held (the command runs again). */
  drop (): void {
    this.pieces = []
    this.bytes = 0
  }
}
