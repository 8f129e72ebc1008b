// Role: a fresh Helia node (blockstore-level in its own directory, as a Helia
// node keeps the blocks it fetches) connected to the given seeders, which
// cats one UnixFS file over Bitswap. Reports the same figures as the DDS
// retriever; bytes received are counted on the TCP sockets, as for DDS.
//
// Options: { dir, peers: ['<multiaddr>/p2p/<id>'] }
// Ops: retrieve { cid, size } -> see `retrieve` below
import { multiaddr } from '@multiformats/multiaddr'
import { CID } from 'multiformats/cid'
import { createBenchHelia } from '../lib/helia.mjs'
import { Fingerprint } from '../lib/content.mjs'
import { trackSockets, socketBytesRead } from '../lib/wire.mjs'
import { MemorySampler, peakRssBytes, roleOptions, serve } from '../lib/role.mjs'

const BITSWAP_WAIT_MS = 10_000

trackSockets()
const options = roleOptions()
const node = await createBenchHelia({ dir: options.dir })
const libp2p = node.helia.libp2p
const peers = await Promise.all(options.peers.map(async (addr) => (await libp2p.dial(multiaddr(addr))).remotePeer))
await waitForBitswap(peers)
const readyRssBytes = process.memoryUsage().rss

/** Waits until identify has told us every seeder speaks Bitswap. */
async function waitForBitswap (ids) {
  const deadline = Date.now() + BITSWAP_WAIT_MS
  for (const id of ids) {
    while (true) {
      const peer = await libp2p.peerStore.get(id).catch(() => null)
      if (peer?.protocols.some(p => p.startsWith('/ipfs/bitswap/')) === true) {
        break
      }
      if (Date.now() > deadline) {
        throw new Error(`seeder ${id} did not show the Bitswap protocol within ${BITSWAP_WAIT_MS} ms`)
      }
      await new Promise(resolve => setTimeout(resolve, 20))
    }
  }
}

async function retrieve ({ cid, size }) {
  const fingerprint = new Fingerprint(size)
  const wireBefore = socketBytesRead()
  let bytes = 0
  let ttfbMs = null
  let firstBytes = 0
  const memory = new MemorySampler()
  const started = performance.now()
  for await (const piece of node.fs.cat(CID.parse(cid))) {
    if (ttfbMs == null) {
      ttfbMs = performance.now() - started
      firstBytes = piece.byteLength
    }
    fingerprint.update(piece)
    bytes += piece.byteLength
  }
  const ms = performance.now() - started
  return {
    ...memory.stop(),
    bytes,
    ms,
    ttfbMs,
    firstBytes,
    wireBytes: socketBytesRead() - wireBefore,
    fingerprint: fingerprint.digest(),
    peakRssBytes: peakRssBytes(),
    readyRssBytes
  }
}

serve({ retrieve }, {
  info: { peerId: libp2p.peerId.toString() },
  stop: () => node.stop()
})
