/**
 * The transport's ceiling, for bench/throughput: one libp2p stream (TCP,
 * Noise, Yamux, 256 KiB writes) between two processes on 127.0.0.1, no job,
 * no framing. `node raw-stream.js serve BYTES` prints its address;
 * `node raw-stream.js fetch ADDR` prints the MB/s it received.
 */
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { multiaddr } from '@multiformats/multiaddr'

const PROTOCOL = '/kappa-bench/raw/1'
const CHUNK = 256 * 1024

async function main (): Promise<void> {
  const [mode, arg] = process.argv.slice(2)
  const node = await createLibp2p({
    addresses: { listen: mode === 'serve' ? ['/ip4/127.0.0.1/tcp/0'] : [] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()]
  })
  if (mode === 'serve') {
    const total = Number(arg)
    await node.handle(PROTOCOL, async (stream) => {
      const chunk = new Uint8Array(CHUNK)
      for (let sent = 0; sent < total; sent += CHUNK) {
        if (!stream.send(chunk.subarray(0, Math.min(CHUNK, total - sent)))) await stream.onDrain()
      }
      await stream.close()
    })
    process.stdout.write(`${node.getMultiaddrs()[0].toString()}\n`)
    return
  }
  const start = process.hrtime.bigint()
  let received = 0
  const stream = await node.dialProtocol(multiaddr(arg), PROTOCOL)
  for await (const chunk of stream) received += chunk.byteLength
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  process.stdout.write(`${received / 1e6 / seconds}\n`)
  await node.stop()
}

main().catch((err) => { console.error(err); process.exit(1) })
