/**
 * How a peer is named in one-line messages, for the daemon and the thin CLI
 * alike (no libp2p here: the client commands load this too).
 */
export function shortId (id: string): string {
  return id.length > 16 ? `${id.slice(0, 8)}…${id.slice(-6)}` : id
}

export function label (id: string, alias?: string | null): string {
  return alias != null ? `${alias} (${shortId(id)})` : shortId(id)
}
