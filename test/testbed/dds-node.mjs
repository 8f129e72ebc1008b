// One DDS node in a testbed namespace, driven by its parent over IPC: the
// parent sends { op, ... } messages and gets one reply each. Runs on dist/.
import { createHash } from 'node:crypto'
const init = JSON.parse(process.argv[2])
// `debug`: a DEBUG pattern for this node alone (the logger reads it when it loads)
if (init.debug) { process.env.DEBUG = init.debug; delete init.debug }
const { Dds } = await import('../../dist/index.js')
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
      // what happened when, for the test's log
      const events = []
      // the first direct (not relayed) connection that opens meanwhile: the hole punch
      let directMs
      const onOpen = (evt) => {
        if (evt.detail.limits == null && directMs == null) {
          directMs = performance.now() - started
        }
      }
      node.libp2p.addEventListener('connection:open', onOpen)
      const onProgress = (evt) => {
        if (evt.type !== 'dds:retrieve:chunk' || events.at(-1)?.type !== evt.type) {
          events.push({ type: evt.type, ms: Math.round(performance.now() - started), peer: evt.detail?.peer, error: evt.detail?.error?.message?.slice(0, 160) })
        }
      }
      for await (const piece of node.retrieve(msg.cid, { onProgress })) {
        first ??= performance.now() - started
        hash.update(piece)
        bytes += piece.byteLength
      }
      node.libp2p.removeEventListener('connection:open', onOpen)
      reply({ bytes, ms: performance.now() - started, firstByteMs: first, directMs, sha256: hash.digest('hex'), connections: connections(), events })
    } else if (msg.op === 'pin') {
      const pin = await node.pin(msg.cid)
      reply({ pinned: pin.cid })
    } else if (msg.op === 'connect') {
      await node.connect(msg.addr)
      reply({ connected: true })
    } else if (msg.op === 'dht-mode') {
      reply({ mode: node.libp2p.services.dht.getMode() })
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
