import type { ConnectionOptions, TLSSocket, TLSSocketOptions } from 'node:tls'

/** Node's TLSSocket takes a server-side pskCallback (as tls.createServer does); @types/node does not list it. */
type PskServerOptions = TLSSocketOptions & { pskCallback: (socket: TLSSocket, identity: string) => Buffer | null }

/**
 * TLS 1.3 with an external pre-shared key (RFC 8446 §2.2): the identity is
 * the offer id, the key the secret that travelled inside the peers' Noise
 * session. Both ends prove the key in the handshake (its Finished messages),
 * the key exchange is still ephemeral (psk_dhe_ke, so a secret seen later
 * does not open a recorded session), and no certificate is involved.
 * OpenSSL's PSK callbacks serve TLS 1.3 with SHA-256 suites only;
 * AES-128-GCM is the fastest on machines with AES instructions.
 */
const TLS13 = { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3', ciphers: 'TLS_AES_128_GCM_SHA256' } as const

/** The bulk port's side: `keyFor` names the secret of an offer id, or null for an unknown one (the handshake fails). */
export function serverTlsOptions (keyFor: (identity: string) => Buffer | null): TLSSocketOptions {
  const options: PskServerOptions = { ...TLS13, isServer: true, pskCallback: (_socket, identity) => keyFor(identity) }
  return options
}

/** The origin's side of an offer. */
export function clientTlsOptions (identity: string, secret: Uint8Array): ConnectionOptions {
  return {
    ...TLS13,
    pskCallback: () => ({ identity, psk: Buffer.from(secret) }),
    // the PSK authenticates the port: there is no certificate, and no host name to check
    checkServerIdentity: () => undefined
  }
}
