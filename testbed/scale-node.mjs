// One DDS node of a scale run (testbed/lib/scale.mjs), inside a testbed
// namespace, driven by its parent over IPC: every message { id, op, ... }
// gets one reply { id, ... } (or { id, error }). Runs on dist/ (npm run build).
//
//   argv[2]  the Dds.create init, as JSON
import { createHash } from 'node:crypto'

const init = JSON.parse(process.argv[2])
const { Dds } = await import('../dist/index.js')
const node = await Dds.create(init)

/** Deterministic content of `size` bytes from `seed` (xorshift32). */
function content (size, seed) {
  const out = new Uint8Array(size)
  let x = seed >>> 0 || 1
  for (let i = 0; i < size; i += 4) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0
    out[i] = x & 255; out[i + 1] = (x >>> 8) & 255; out[i + 2] = (x >>> 16) & 255; out[i + 3] = x >>> 24
  }
  return out
}

const ops = {
  async publish ({ size, seed }) {
    const bytes = content(size, seed)
    const cid = await node.publish(bytes, { name: `content-${seed}.bin` })
    await node.awaitAnnouncements()
    return { cid, sha256: createHash('sha256').update(bytes).digest('hex') }
  },
  async retrieve ({ cid, timeoutMs }) {
    const hash = createHash('sha256')
    const started = performance.now()
    let firstByteMs
    let bytes = 0
    for await (const piece of node.retrieve(cid, { signal: AbortSignal.timeout(timeoutMs) })) {
      firstByteMs ??= performance.now() - started
      hash.update(piece)
      bytes += piece.byteLength
    }
    return { bytes, ms: performance.now() - started, firstByteMs, sha256: hash.digest('hex') }
  },
  /** Manifest CIDs held here in full (published, pinned or replicated). */
  async holds () {
    return { cids: (await node.pins()).filter(p => p.state === 'complete').map(p => p.cid) }
  },
  async info () {
    return {
      rss: process.memoryUsage().rss,
      routingTable: node.libp2p.services.dht?.routingTable?.size ?? 0,
      connections: node.libp2p.getConnections().length
    }
  },
  async stop () {
    await node.stop()
    setImmediate(() => process.exit(0))
    return { stopped: true }
  }
}

process.on('message', async ({ id, op, ...args }) => {
  try {
    if (ops[op] == null) throw new TypeError(`unknown op ${op}`)
    process.send({ id, ...(await ops[op](args)) })
  } catch (err) {
    process.send({ id, error: { name: err.name, message: String(err.message).slice(0, 2000) } })
  }
})
process.on('disconnect', () => { process.exit(0) })
process.send({ id: 0, ready: true, peerId: node.peerId, addrs: node.getMultiaddrs() })
