import { readFileSync } from 'node:fs'

export interface Mount { point: string, type: string, options: string[] }

/** The mounts of this mount namespace (`/proc/self/mounts`), octal escapes (spaces…) undone; none if unreadable. */
export function readMounts (mountsFile = '/proc/self/mounts'): Mount[] {
  let text: string
  try {
    text = readFileSync(mountsFile, 'utf8')
  } catch {
    return []
  }
  return text.split('\n').filter(l => l !== '').map(line => {
    const [, point, type, options] = line.split(' ')
    return { point: point.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))), type, options: (options ?? '').split(',') }
  })
}
