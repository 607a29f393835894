/**
 * Tables for people: columns padded, and the whole fitted into 80 columns
 * (a terminal's width, if it is wider, is not assumed) by clipping the
 * flexible columns (addresses, commands). `--wide` prints everything.
 */
import { clip, printable } from '../units.js'

export interface Column {
  header: string
  /** may be clipped to fit the width */
  flex?: boolean
  right?: boolean
}

export const TABLE_WIDTH = 80
const GAP = 2
const MIN_FLEX = 10

export function table (columns: Column[], rows: string[][], width: number | null = TABLE_WIDTH): string {
  const cells = [columns.map(c => c.header), ...rows.map(r => columns.map((_, i) => printable(r[i] ?? '')))]
  const widths = columns.map((_, i) => Math.max(...cells.map(r => r[i].length)))
  if (width != null) {
    let over = widths.reduce((a, b) => a + b, 0) + GAP * (columns.length - 1) - width
    // take the excess from the widest flexible columns first
    while (over > 0) {
      let widest = -1
      for (let i = 0; i < columns.length; i++) {
        if (columns[i].flex === true && widths[i] > MIN_FLEX && (widest < 0 || widths[i] > widths[widest])) widest = i
      }
      if (widest < 0) break
      const take = Math.min(over, widths[widest] - MIN_FLEX)
      widths[widest] -= take
      over -= take
    }
  }
  return cells.map(r => r.map((c, i) => {
    const text = clip(c, widths[i])
    if (i === r.length - 1 && columns[i].right !== true) return text
    return columns[i].right === true ? text.padStart(widths[i]) : text.padEnd(widths[i])
  }).join(' '.repeat(GAP)).trimEnd()).join('\n')
}
