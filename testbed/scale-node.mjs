// One DDS node of a scale run (testbed/lib/scale.mjs), inside a testbed
// namespace, driven by its parent over IPC: every message { id, op, ... }
// gets one reply { id, ... } (or { id, error }). Runs on dist/ (npm run build).
//
//   argv[2]  the Dds.create init, as JSON
import { createHash } from 'node:crypto'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { Session } from 'node:inspector/promises'
import { mkdir, writeFile } from 'node:fs/promises'

const init = JSON.parse(process.argv[2])
const { Dds, kadDiscovery, cidForBlock } = await import('../dist/index.js')
const node = await Dds.create(init)
const discovery = kadDiscovery()({ dht: node.libp2p.services.dht, peerId: node.libp2p.peerId, libp2p: node.libp2p })

/** The event-loop delay monitor's sampling interval, ms. */
const LOOP_RESOLUTION_MS = 10
/** Holders that failed, recorded per retrieval (a probe that fails names each one asked, and for which block). */
const MAX_FAILED = 60

/** `count` CIDs of made-up blocks, the same for the same seed. */
function madeUpCids (count, seed) {
  return Array.from({ length: count }, (_, i) => cidForBlock(new TextEncoder().encode(`record ${seed} ${i}`)))
}

/** CPU time of this process so far, in ms. */
function cpuMs () {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1000
}

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
  /**
   * Retrieves `cid` whole. `timeline` says where the time to the first byte
   * went: when the manifest and the first chunk came and from whom (and
   * whether that peer was connected before), the holders that failed, and
   * the connections opened meanwhile.
   */
  async retrieve ({ cid, timeoutMs, profile }) {
    const hash = createHash('sha256')
    const started = performance.now()
    const at = () => Math.round(performance.now() - started)
    const connectedBefore = new Set(node.libp2p.getConnections().map(c => c.remotePeer.toString()))
    const timeline = { failed: [], opened: [] }
    // peers by the end of their id, enough to tell them apart in one run
    const short = (peer) => String(peer).slice(-6)
    /** When a block came, from whom, and whether that peer was connected before. */
    const arrival = (from) => ({ ms: at(), from: short(from), wasConnected: connectedBefore.has(String(from)) })
    const onOpen = (event) => {
      if (timeline.opened.length < 20) timeline.opened.push({ ms: at(), peer: short(event.detail.remotePeer) })
    }
    const onProgress = (event) => {
      const d = event.detail
      if (event.type === 'dds:retrieve:manifest') {
        timeline.manifest = arrival(d.from)
      } else if (event.type === 'dds:retrieve:chunk' && timeline.firstChunk == null) {
        timeline.firstChunk = arrival(d.from)
      } else if (event.type === 'dds:retrieve:providers' && timeline.providers == null) {
        timeline.providers = { ms: at(), found: d.providers }
      } else if (event.type === 'dds:retrieve:provider-failed' && timeline.failed.length < MAX_FAILED) {
        // which block was asked for: the manifest, or a chunk (by the end of its CID)
        const block = String(d.cid) === cid ? 'manifest' : String(d.cid).slice(-6)
        timeline.failed.push({ ms: at(), peer: short(d.peer), block, error: `${d.error?.name}: ${String(d.error?.message).slice(0, 300)}` })
      }
    }
    // how long this node's own event loop was held up meanwhile (the sampling
    // interval is taken off: an idle loop reads LOOP_RESOLUTION_MS)
    const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS })
    const cpu = cpuMs()
    let profiling
    let firstByteMs
    let bytes = 0
    let ms
    // a retrieval still running well past its deadline says where it is (the harness shows this stderr)
    const overdue = setTimeout(() => {
      process.stderr.write(`retrieval of ${cid} still running ${at()} ms after it began (deadline ${timeoutMs} ms): ${bytes} bytes so far, ${JSON.stringify(timeline)}; pending: ${process.getActiveResourcesInfo().join(',')}\n`)
    }, timeoutMs + 10_000)
    try {
      node.libp2p.addEventListener('connection:open', onOpen)
      loop.enable()
      // `profile`: a directory for a V8 CPU profile of this retrieval
      if (profile != null) {
        profiling = new Session()
        profiling.connect()
        await profiling.post('Profiler.enable')
        await profiling.post('Profiler.start')
      }
      for await (const piece of node.retrieve(cid, { signal: AbortSignal.timeout(timeoutMs), onProgress })) {
        firstByteMs ??= performance.now() - started
        hash.update(piece)
        bytes += piece.byteLength
      }
      ms = performance.now() - started
    } catch (err) {
      // a failed retrieval says where its time went and whom it asked, as a success does
      err.timeline = timeline
      throw err
    } finally {
      clearTimeout(overdue)
      node.libp2p.removeEventListener('connection:open', onOpen)
      loop.disable()
      timeline.loopDelayMaxMs = Math.max(0, Math.round(loop.max / 1e6 - LOOP_RESOLUTION_MS))
      timeline.cpuMs = Math.round(cpuMs() - cpu)
      if (profiling != null) {
        try {
          const { profile: taken } = await profiling.post('Profiler.stop')
          await mkdir(profile, { recursive: true })
          await writeFile(`${profile}/retrieve-${process.pid}-${Date.now()}.cpuprofile`, JSON.stringify(taken))
        } catch (err) {
          timeline.profileError = String(err.message)
        } finally {
          profiling.disconnect()
        }
      }
    }
    return { bytes, ms, firstByteMs, sha256: hash.digest('hex'), timeline, connectedBefore: connectedBefore.size }
  },
  /**
   * Announces `count` made-up CIDs: 'sweep' with one provideMany (what a
   * node's announce queue does with a content's blocks), 'single' with one
   * DHT provide each, `concurrency` at a time (the queue's one-by-one way).
   */
  async announce ({ count, seed, mode, concurrency = 8 }) {
    const cids = madeUpCids(count, seed)
    const started = performance.now()
    const cpu = cpuMs()
    let peers
    if (mode === 'sweep') {
      peers = (await discovery.provideMany(cids)).peers
    } else {
      peers = new Array(count).fill(0)
      let next = 0
      await Promise.all(Array.from({ length: concurrency }, async () => {
        while (next < count) {
          const i = next++
          peers[i] = (await discovery.provide(cids[i]).catch(() => ({ peers: 0 }))).peers
        }
      }))
    }
    const sorted = [...peers].sort((a, b) => a - b)
    return {
      ms: performance.now() - started,
      cpuMs: cpuMs() - cpu,
      reached: peers.filter(p => p > 0).length,
      peers: { min: sorted[0], median: sorted[Math.floor(sorted.length / 2)] }
    }
  },
  /**
   * Runs the whole re-announcement cycle at once: every part of the key
   * space in turn (a node spreads them over a day), as one sweep each.
   */
  async reannounceAll ({ parts = 24 }) {
    const started = performance.now()
    const cpu = cpuMs()
    let records = 0
    let reached = 0
    for (let part = 0; part < parts; part++) {
      const got = await discovery.reannouncePart(part, parts)
      records += got.records
      reached += got.reached
    }
    return { records, reached, ms: performance.now() - started, cpuMs: cpuMs() - cpu }
  },
  /** How many of the made-up CIDs `indices` of `seed` the DHT names `provider` for. */
  async findMadeUp ({ seed, count, indices, provider }) {
    const cids = madeUpCids(count, seed)
    let found = 0
    for (const i of indices) {
      for await (const p of discovery.findProviders(cids[i], 1, { signal: AbortSignal.timeout(30_000) })) {
        if (p.peerId.toString() === provider) found++
      }
    }
    return { found }
  },
  /** Manifest CIDs held here in full (published, pinned or replicated). */
  async holds () {
    return { cids: (await node.pins()).filter(p => p.state === 'complete').map(p => p.cid) }
  },
  async info () {
    return {
      cpuMs: cpuMs(),
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
    process.send({ id, error: { name: err.name, message: String(err.message).slice(0, 8000), ...(err.timeline != null ? { timeline: err.timeline } : {}) } })
  }
})
process.on('disconnect', () => { process.exit(0) })
process.send({ id: 0, ready: true, peerId: node.peerId, addrs: node.getMultiaddrs() })
