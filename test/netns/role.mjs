// One DDS node in a namespace, driven by its parent over IPC: the parent
// sends { op, ... } messages and gets one reply each. Runs on dist/.
import { createHash } from 'node:crypto'
import { Dds } from '../../dist/index.js'

const init = JSON.parse(process.argv[2])
const node = await Dds.create(init)
const reply = (msg) => { process.send(msg) }

function content (size, seed) {
  const out = new Uint8Array(size)
  let x = seed >>> 0 || 1
  for (let i = 0; i < size; i += 4) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0
    out[i] = x & 255; out[i + 1] = (x >>> 8) & 255; out[i + 2] = (x >>> 16) & 255; out[i + 3] = x >>> 24
  }
  return out
}

const connections = () => node.peers().map(p => ({ peer: p.peer, connections: p.connections }))

process.on('message', async (msg) => {
  try {
    if (msg.op === 'addrs') {
      reply({ addrs: node.getMultiaddrs() })
    } else if (msg.op === 'publish') {
      const bytes = content(msg.size, msg.seed)
      const cid = await node.publish(bytes, { name: 'album.bin' })
      await node.awaitAnnouncements()
      reply({ cid, sha256: createHash('sha256').update(bytes).digest('hex') })
    } else if (msg.op === 'retrieve') {
      const hash = createHash('sha256')
      const started = performance.now()
      let first
      let bytes = 0
      for await (const piece of node.retrieve(msg.cid)) {
        first ??= performance.now() - started
        hash.update(piece)
        bytes += piece.byteLength
      }
      reply({ bytes, ms: performance.now() - started, firstByteMs: first, sha256: hash.digest('hex'), connections: connections() })
    } else if (msg.op === 'connect') {
      await node.connect(msg.addr)
      reply({ connected: true })
    } else if (msg.op === 'connections') {
      reply({ connections: connections() })
    } else if (msg.op === 'stop') {
      await node.stop()
      reply({ stopped: true })
      process.exit(0)
    }
  } catch (err) {
    reply({ error: { name: err.name, message: err.message } })
  }
})
reply({ ready: true, peerId: node.peerId, addrs: node.getMultiaddrs() })
