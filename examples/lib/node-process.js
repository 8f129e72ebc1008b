// A DDS node in its own OS process, driven by its parent over IPC.
// Used by examples/demo.js; not meant to be run by hand.
//
// Messages from the parent: { op: 'publish', path } | { op: 'retrieve', cid } | { op: 'stop' }
// Replies: { ok: true, ...result } or { ok: false, error: { name, message } }.
import { createReadStream } from 'node:fs'
import { createHash } from 'node:crypto'
import { Dds } from '@digisocialblock/dds'

const options = JSON.parse(process.argv[2] ?? '{}')
const node = await Dds.create({
  storage: options.storage ?? 'memory',
  bootstrap: options.bootstrap ?? [],
  listen: ['/ip4/127.0.0.1/tcp/0'],
  // the demo measures one transfer: no background copies to other nodes
  replication: { factor: 1 }
})

const handlers = {
  async publish ({ path }) {
    const started = performance.now()
    const cid = await node.publish(createReadStream(path, { highWaterMark: 1024 * 1024 }))
    return { cid, ms: performance.now() - started }
  },
  async retrieve ({ cid }) {
    const started = performance.now()
    const hash = createHash('sha256')
    let bytes = 0
    let firstByteMs
    for await (const chunk of node.retrieve(cid)) {
      firstByteMs ??= performance.now() - started
      hash.update(chunk)
      bytes += chunk.byteLength
    }
    return { bytes, sha256: hash.digest('hex'), ms: performance.now() - started, firstByteMs, peakRssBytes: process.resourceUsage().maxRSS * 1024 }
  },
  async stop () {
    await node.stop()
    setImmediate(() => process.exit(0))
    return {}
  }
}

process.on('message', async (msg) => {
  try {
    const result = await handlers[msg.op](msg)
    process.send({ id: msg.id, ok: true, ...result })
  } catch (err) {
    process.send({ id: msg.id, ok: false, error: { name: err.name, message: err.message } })
  }
})

process.send({ ready: true, peerId: node.peerId, multiaddrs: node.getMultiaddrs() })
