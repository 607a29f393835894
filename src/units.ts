/**
 * Numbers for people: sizes, durations, ages. Pure and dependency-free: the
 * CLI, the daemon's log, progress lines and the dashboard's page (which
 * loads this file as a module) all say them the same way.
 */

/** 0 B, 512 B, 12 KiB, 1.2 MiB, 3.4 GiB */
export function formatBytes (n: number): string {
  if (!Number.isFinite(n) || n < 0) return '-'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let u = 0
  while (n >= 1024 && u < units.length - 1) { n /= 1024; u++ }
  return u === 0 ? `${Math.round(n)} B` : `${n < 10 ? n.toFixed(1) : Math.round(n)} ${units[u]}`
}

/** 0.4 s, 12 s, 3 min 4 s, 2 h 5 min, 3 d 4 h */
export function formatDuration (ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-'
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s`
  const s = Math.round(ms / 1000)
  if (s < 60) return `${s} s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m} min ${s % 60} s`
  const h = Math.floor(m / 60)
  if (h < 48) return `${h} h ${m % 60} min`
  return `${Math.floor(h / 24)} d ${h % 24} h`
}

/** "just now", "12 s ago", "5 min ago", "3 h ago", "4 days ago" */
export function formatAge (ms: number): string {
  if (!Number.isFinite(ms)) return '-'
  if (ms < 1500) return 'just now'
  const s = Math.round(ms / 1000)
  if (s < 120) return `${s} s ago`
  const m = Math.round(s / 60)
  if (m < 120) return `${m} min ago`
  const h = Math.round(m / 60)
  if (h < 48) return `${h} h ago`
  return `${Math.round(h / 24)} days ago`
}

/** 45 MB/s style rate (decimal megabytes, as network tools say it) */
export function formatRate (bytesPerSecond: number): string {
  if (!Number.isFinite(bytesPerSecond) || bytesPerSecond <= 0) return '-'
  if (bytesPerSecond >= 1e9) return `${(bytesPerSecond / 1e9).toFixed(1)} GB/s`
  if (bytesPerSecond >= 1e6) return `${(bytesPerSecond / 1e6).toFixed(bytesPerSecond >= 1e8 ? 0 : 1)} MB/s`
  return `${Math.round(bytesPerSecond / 1e3)} kB/s`
}

/**
 * Text a peer chose (argv, aliases) made safe for a terminal: control
 * characters (escape sequences could rewrite the screen) become '?'.
 */
export function printable (text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?')
}

/** A command line as a shell would show it: words with spaces or quotes get single quotes. */
export function commandLine (argv: readonly string[]): string {
  return argv.map(a => a !== '' && /^[\w@%+=:,./~-]+$/.test(a) ? printable(a) : `'${printable(a).replace(/'/g, "'\\''")}'`).join(' ')
}

/** Cut `text` to `width` characters, ending with '…' when cut. */
export function clip (text: string, width: number): string {
  if (width <= 0) return ''
  return text.length <= width ? text : text.slice(0, Math.max(0, width - 1)) + '…'
}
