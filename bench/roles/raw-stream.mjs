// Role: one end of the raw-limit measurement. One libp2p 3 stream over TCP +
// Noise + Yamux between two processes, no application protocol: the `source`
// pushes `bytes` as fast as the stream takes them (256 KiB writes, waiting
// for drain), the `sink` counts what arrives and answers with the count when
// the source closes its side. The source times from its first write to that
// answer.
//
// The sink also measures its CPU time (user + system) from the first byte to
// the end of the stream: what receiving costs on this stack, per byte.
//
// Options: { mode: 'sink', listen? } | { mode: 'source', target: '<multiaddr>' }
// Ops (source): push { bytes } -> { bytes, ms }
// Ops (sink): cpu -> { cpuMs, bytes } of the last finished stream, and the process's peak RSS
import { randomBytes } from 'node:crypto'
import { multiaddr } from '@multiformats/multiaddr'
import { createBenchLibp2p } from '../lib/libp2p.mjs'
import { peakRssBytes, roleOptions, serve } from '../lib/role.mjs'

const PROTOCOL = '/dds-bench/raw/1.0.0'
const WRITE_SIZE = 256 * 1024

const options = roleOptions()
const node = await createBenchLibp2p(options.listen != null ? { listen: options.listen } : {})
const stop = async () => { await node.stop() }

if (options.mode === 'sink') {
  let last = { cpuMs: null, bytes: 0 }
  await node.handle(PROTOCOL, (stream) => {
    let received = 0
    let cpuAtStart = null
    stream.addEventListener('message', (evt) => {
      cpuAtStart ??= process.cpuUsage()
      received += evt.data.byteLength
    })
    stream.addEventListener('remoteCloseWrite', () => {
      const cpu = process.cpuUsage(cpuAtStart ?? undefined)
      last = { cpuMs: (cpu.user + cpu.system) / 1000, bytes: received }
      const answer = new DataView(new ArrayBuffer(8))
      answer.setBigUint64(0, BigInt(received))
      stream.send(new Uint8Array(answer.buffer))
      stream.close().catch(() => {})
    })
  })
  serve({ cpu: async () => ({ ...last, peakRssBytes: peakRssBytes() }) }, { info: { multiaddrs: node.getMultiaddrs().map(String) }, stop })
} else {
  serve({ push }, { stop })
}

async function push ({ bytes }) {
  const stream = await node.dialProtocol(multiaddr(options.target), PROTOCOL)
  const block = randomBytes(WRITE_SIZE)
  const answered = new Promise((resolve, reject) => {
    stream.addEventListener('message', (evt) => {
      const data = evt.data.subarray()
      resolve(Number(new DataView(data.buffer, data.byteOffset, data.byteLength).getBigUint64(0)))
    }, { once: true })
    stream.addEventListener('close', (evt) => reject(evt.error ?? new Error('the stream closed before the sink answered')), { once: true })
  })
  const started = performance.now()
  for (let sent = 0; sent < bytes; sent += WRITE_SIZE) {
    const piece = bytes - sent >= WRITE_SIZE ? block : block.subarray(0, bytes - sent)
    if (!stream.send(piece)) {
      await stream.onDrain()
    }
  }
  await stream.close()
  const received = await answered
  const ms = performance.now() - started
  if (received !== bytes) {
    throw new Error(`the sink received ${received} of ${bytes} bytes`)
  }
  return { bytes, ms }
}
