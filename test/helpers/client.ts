/** An in-process libp2p node that holds some home's identity key: a peer impersonating, or a stranger. */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createLibp2p, type Libp2p } from 'libp2p'
import type { PrivateKey } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair, privateKeyFromProtobuf } from '@libp2p/crypto/keys'
import { onCleanup } from './node.js'

/** The identity key of a node's home. */
export async function homeKey (home: string): Promise<PrivateKey> {
  return privateKeyFromProtobuf(await readFile(join(home, 'identity.key')))
}

/** `listen`: addresses to listen on (a fake target takes over a stopped daemon's address). */
export async function libp2pClient (home?: string | PrivateKey, listen: string[] = []): Promise<Libp2p> {
  const privateKey = typeof home === 'string'
    ? await homeKey(home)
    : home ?? await generateKeyPair('Ed25519')
  const node = await createLibp2p({
    privateKey,
    addresses: { listen },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()]
  })
  onCleanup(async () => { await node.stop() })
  return node
}
