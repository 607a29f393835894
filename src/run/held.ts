import { writeSync } from 'node:fs'

/** The longest piece of a remote run's stderr quoted in the line after a local success (kappa-run.c has the same). */
const ERROR_LINE_MAX = 160

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
    const text = this.stderr()
    return text.startsWith(prefix) ? text.split('\n')[0] : undefined
  }

  /**
   * What the run said went wrong, for the one line after a local success: the
   * held stderr's first line that mentions an error, else its first non-empty
   * line; control characters as spaces, at most ERROR_LINE_MAX characters.
   */
  firstErrorLine (): string | undefined {
    const lines = this.stderr().split('\n')
    const line = lines.find(l => l.includes('error')) ?? lines.find(l => l.trim() !== '')
    // eslint-disable-next-line no-control-regex
    return line?.replace(/[\x00-\x1f\x7f]/g, ' ').slice(0, ERROR_LINE_MAX)
  }

  /** Everything held for stderr, as text. */
  private stderr (): string {
    return Buffer.concat(this.pieces.filter(p => p.fd === 2).map(p => p.data)).toString('utf8')
  }

  /** Forget what was held (the command runs again). */
  drop (): void {
    this.pieces = []
    this.bytes = 0
  }
}
