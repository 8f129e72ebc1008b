// Role: a fresh DDS node (memory store) that joins the given seeders and
// retrieves one content. Reports throughput from the `retrieve` call to the
// last byte, time to first byte (and to the manifest), bytes read from the TCP sockets (all
// protocols, encryption and muxing included), the chunk bytes each peer
// delivered (from `dds:retrieve:chunk` progress events), a sampled
// fingerprint of the output, the process's peak RSS and its RSS once the
// node was up (before retrieving), and its CPU time (user + system) during
// the retrieval.
//
// Options: { bootstrap: ['<multiaddr>/p2p/<id>'], defaults?: true, retrieval?: {...} }
//   defaults: the node has the library's default options (replication
//   included) and retrieves as soon as it is asked; `sinceStartMs` is then
//   the time from process start to the last byte. `retrieval` (with
//   defaults only): retrieval options that differ from the defaults.
// Ops: retrieve { cid, size, marks? } -> see `retrieve` below; `marks` (ms
// after the call) adds the bytes received by then, for rates over a window
import { Dds } from '@digisocialblock/dds'
import { Fingerprint } from '../lib/content.mjs'
import { trackSockets, socketBytesRead } from '../lib/wire.mjs'
import { MemorySampler, peakRssBytes, roleOptions, serve } from '../lib/role.mjs'

trackSockets()
const options = roleOptions()
const node = options.defaults === true
  ? await Dds.create({ storage: 'memory', bootstrap: options.bootstrap, ...(options.retrieval != null ? { retrieval: options.retrieval } : {}) })
  : await Dds.create({ storage: 'memory', bootstrap: options.bootstrap, replication: { factor: 1, accept: 'none' } })
const readyRssBytes = process.memoryUsage().rss

async function retrieve ({ cid, size, marks = [] }) {
  const fingerprint = new Fingerprint(size)
  const perPeer = {}
  const failures = []
  let manifestMs = null
  let done = null
  const onProgress = (evt) => {
    if (evt.type === 'dds:retrieve:done') {
      done = evt.detail
    } else if (evt.type === 'dds:retrieve:manifest') {
      manifestMs ??= performance.now() - started
    } else if (evt.type === 'dds:retrieve:chunk' && evt.detail.from !== 'local') {
      perPeer[evt.detail.from] = (perPeer[evt.detail.from] ?? 0) + evt.detail.bytes
    } else if (evt.type === 'dds:retrieve:provider-failed') {
      failures.push(evt.detail)
    }
  }
  const wireBefore = socketBytesRead()
  let bytes = 0
  let ttfbMs = null
  let firstBytes = 0
  const memory = new MemorySampler()
  const cpuBefore = process.cpuUsage()
  const started = performance.now()
  const taken = []
  const timers = marks.map(ms => setTimeout(() => { taken.push({ ms, bytes }) }, ms))
  try {
    for await (const piece of node.retrieve(cid, { onProgress })) {
      if (ttfbMs == null) {
        ttfbMs = performance.now() - started
        firstBytes = piece.byteLength
      }
      fingerprint.update(piece)
      bytes += piece.byteLength
    }
  } catch (err) {
    throw withFailures(err, failures)
  } finally {
    timers.forEach(clearTimeout)
  }
  const ms = performance.now() - started
  const sinceStartMs = performance.now()
  const cpu = process.cpuUsage(cpuBefore)
  return {
    cpuMs: (cpu.user + cpu.system) / 1000,
    ...memory.stop(),
    bytes,
    ms,
    sinceStartMs,
    ttfbMs,
    manifestMs,
    firstBytes,
    wireBytes: socketBytesRead() - wireBefore,
    peerBytes: Object.values(perPeer).reduce((a, b) => a + b, 0),
    perPeer,
    providerFailures: failures.length,
    rescued: done?.rescued ?? null,
    duplicates: done?.duplicates ?? null,
    marks: taken,
    fingerprint: fingerprint.digest(),
    peakRssBytes: peakRssBytes(),
    readyRssBytes
  }
}

/** Adds what the peers' failures were to a failed retrieval's error. */
function withFailures (err, failures) {
  if (failures.length === 0) {
    return err
  }
  const first = failures[0].error
  const where = first?.stack?.split('\n').find(line => line.trim().startsWith('at '))?.trim() ?? ''
  err.message += ` [${failures.length} provider failure(s); the first, from ${failures[0].peer}: ${first?.name}: ${first?.message} ${where}]`
  return err
}

serve({ retrieve }, {
  info: { peerId: node.peerId },
  stop: async () => { await node.stop() }
})
