import { peerIdFromString } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'

/**
 * An origin's proof that it sent a probe (SPEC §3, transitivity): its
 * signature, with its peer id's key, over the probe id, itself and the
 * neighbour it sent the probe to. The first hop checks that it is talking
 * to the origin (the connection's authenticated peer); every later hop
 * checks the signature names that first hop. A paired peer relaying a probe
 * can then not have tickets issued to an identity it made up, nor present
 * an origin's probe as one the origin sent through it.
 */
const DOMAIN = 'kappa/probe-origin/1'

function message (probe: string, origin: string, firstHop: string): Uint8Array {
  return new TextEncoder().encode(`${DOMAIN}\n${probe}\n${origin}\n${firstHop}`)
}

export async function proveOrigin (key: PrivateKey, probe: string, origin: string, firstHop: string): Promise<Uint8Array<ArrayBuffer>> {
  return await key.sign(message(probe, origin, firstHop)) as Uint8Array<ArrayBuffer>
}

/** False for a bad signature, or an origin whose peer id carries no public key. */
export async function verifyOrigin (proof: Uint8Array, probe: string, origin: string, firstHop: string): Promise<boolean> {
  if (proof.byteLength === 0 || proof.byteLength > 1024) return false
  try {
    const key = peerIdFromString(origin).publicKey
    if (key == null) return false
    return await key.verify(message(probe, origin, firstHop), proof)
  } catch {
    // an origin that is not a peer id, or a key that cannot verify: not proved
    return false
  }
}
