import { readFile } from 'node:fs/promises'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { homeFile, writeFileAtomic } from '../home/index.js'
import { UserError } from '../errors.js'
import type { PrivateKey, PeerId } from '@libp2p/interface'

export interface Identity {
  privateKey: PrivateKey
  peerId: PeerId
  /** true when the key was created by this call */
  created: boolean
}

/**
 * The node's persistent Ed25519 key, protobuf-marshalled in
 * `$KAPPA_HOME/identity.key` (mode 0600). A corrupt key file is an error, never
 * silently replaced: the peer id is what paired machines trust.
 */
export async function loadOrCreateIdentity (home: string): Promise<Identity> {
  const path = homeFile(home, 'identity')
  let bytes: Uint8Array | undefined
  try {
    bytes = await readFile(path)
  } catch (err: any) {
    if (err.code !== 'ENOENT') throw new UserError(`cannot read identity key ${path}: ${err.message}`)
  }
  if (bytes != null) {
    try {
      const privateKey = privateKeyFromProtobuf(bytes)
      return { privateKey, peerId: peerIdFromPrivateKey(privateKey), created: false }
    } catch (err: any) {
      throw new UserError(`identity key ${path} is corrupt (${err.message}); move it away to create a new identity`)
    }
  }
  const privateKey = await generateKeyPair('Ed25519')
  await writeFileAtomic(path, privateKeyToProtobuf(privateKey), 0o600)
  return { privateKey, peerId: peerIdFromPrivateKey(privateKey), created: true }
}
