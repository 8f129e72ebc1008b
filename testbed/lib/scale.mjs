// A network of many DDS nodes in the testbed: one public host (namespace)
// and one node process per node, every host's link shaped alike; the DHT
// formed; scenarios run against it (first byte; churn with a probe and
// replication back to its factor). Used by `npm run testbed -- --nodes N`
// and by test/testbed/scale.test.ts.
import { once } from 'node:events'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { createTestbed } from './testbed.mjs'
import { killGroup } from './node.mjs'

/** The node program. */
export const SCALE_NODE = fileURLToPath(new URL('../scale-node.mjs', import.meta.url))

/** Every node's TCP (and QUIC) port on its own host. */
export const NODE_PORT = 4001

/** Check intervals, from the last kills, that the run waits for every content to be back at its factor (`factorWaitIntervals`). */
export const FACTOR_WAIT_INTERVALS = 3

/** How long a node may take to answer the harness beyond what it was asked to do, in ms (a node that does not is recorded, not waited for). */
const ANSWER_WITHIN_MS = 30_000

/** Defaults of a scale run; each is a `runScale` option and a command line flag. */
export const SCALE_DEFAULTS = Object.freeze({
  /** Each link's one-way delay (a node-to-node round trip crosses two links: 4x this). */
  delayMs: 0,
  /** Each link's loss per direction, in percent. */
  lossPct: 0,
  /** Each link's rate, e.g. '100mbit' (both directions); undefined: unlimited. */
  rate: undefined,
  /** Content each publisher publishes, in bytes. */
  sizeBytes: 1024 * 1024,
  /** Nodes that publish one content each (at most the number of nodes). */
  publishers: 8,
  /** Retrievals of the first-byte scenario, one after the other. */
  retrievals: 50,
  /** How long the churn phase runs, in seconds. */
  durationS: 600,
  /** The probe's period during churn. */
  probeIntervalMs: 2_000,
  /** One retrieval's deadline (a probe that takes longer failed). */
  retrievalTimeoutMs: 30_000,
  /** Nodes started at once. */
  startConcurrency: 4,
  /** How many earlier nodes a joining node bootstraps from. */
  bootstrapPeers: 3,
  /** The DHT counts as formed when every node's routing table holds this many peers (or all others, if fewer). */
  formedTableSize: 8,
  /** How long the DHT may take to form, per node. */
  formTimeoutPerNodeMs: 5_000,
  /** The nodes' replication check interval; undefined: DDS's default. */
  checkIntervalMs: undefined,
  /** Check intervals from the last kills that the run waits for every content to be back at its factor. */
  factorWaitIntervals: FACTOR_WAIT_INTERVALS,
  /** Records one node announces in one sweep in the announcing scenario; 0 leaves the scenario out. */
  announceRecords: 0,
  /** Records the same node announces one DHT provide each (8 at a time), for the rate to compare with. */
  announceSingles: 200,
  /** Retrievals before and after the re-announcement cycle (the throughput without it). */
  reannounceSamples: 8,
  /** How long the network is left alone at the end, to measure what an idle network of this size costs in CPU; 0 leaves it out. */
  idleCpuMs: 30_000
})

/** Waits for the next reply of a scale node. */
class ScaleNode {
  constructor (host, init, generation) {
    this.host = host
    this.generation = generation
    this.nextId = 1
    this.pending = new Map()
    this.stderr = ''
    this.alive = true
    this.child = host.spawnNode(SCALE_NODE, [JSON.stringify(init)], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] })
    this.child.stderr.setEncoding('utf8').on('data', (s) => { this.stderr = (this.stderr + s).slice(-4000) })
    this.child.on('message', (msg) => {
      const waiter = this.pending.get(msg.id)
      this.pending.delete(msg.id)
      waiter?.resolve(msg)
    })
    this.exited = once(this.child, 'exit').then(([code, signal]) => {
      this.alive = false
      const err = new Error(`node ${host.name} exited (${signal ?? code}): ${errorLines(this.stderr)}`)
      for (const waiter of this.pending.values()) waiter.reject(err)
      this.pending.clear()
      return { code, signal }
    })
    this.ready = new Promise((resolve, reject) => { this.pending.set(0, { resolve, reject }) }).then((msg) => {
      this.peerId = msg.peerId
      this.addr = `/ip4/${host.address}/tcp/${NODE_PORT}/p2p/${msg.peerId}`
      return this
    })
  }

  /**
   * Sends `{ op, ...args }` and resolves with the reply; rejects with the
   * node's error, when it exits, or (with `answerWithinMs`) when it has not
   * answered by then (`unanswered` set on the error).
   */
  async ask (op, args = {}, answerWithinMs) {
    // a node killed a moment ago has its channel closed before its exit is seen
    if (!this.alive || !this.child.connected) throw new Error(`node ${this.host.name} is not running`)
    const id = this.nextId++
    const reply = new Promise((resolve, reject) => { this.pending.set(id, { resolve, reject }) })
    const late = answerWithinMs == null
      ? undefined
      : rejectAfter(answerWithinMs, () => {
        this.pending.delete(id)
        return Object.assign(new Error(`node ${this.host.name} did not answer ${op} within ${answerWithinMs} ms: ${errorLines(this.stderr)}`), { unanswered: true })
      })
    // a send that fails (the channel closed meanwhile) rejects this ask instead of erroring the process
    this.child.send({ id, op, ...args }, (err) => {
      if (err == null) return
      this.pending.get(id)?.reject(new Error(`node ${this.host.name} is not running: ${err.message}`))
      this.pending.delete(id)
    })
    const msg = await (late == null ? reply : Promise.race([reply, late.promise])).finally(() => { late?.clear() })
    if (msg.error != null) {
      throw Object.assign(new Error(`${msg.error.name}: ${msg.error.message}`), { name: msg.error.name, timeline: msg.error.timeline })
    }
    return msg
  }

  /** RSS now and its peak so far, in bytes, read from /proc (works while the node is busy). */
  async memory () {
    const status = await readFile(`/proc/${this.child.pid}/status`, 'utf8').catch(() => '')
    const kib = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024
    return { rss: kib('VmRSS'), peak: kib('VmHWM') }
  }

  kill () {
    killGroup(this.child, 'SIGKILL')
    return this.exited
  }
}

/** A promise that rejects with `error()` after `ms`, unless `clear` is called first. */
function rejectAfter (ms, error) {
  let timer
  const promise = new Promise((resolve, reject) => { timer = setTimeout(() => { reject(error()) }, ms) })
  return { promise, clear: () => { clearTimeout(timer) } }
}

/** `items` in a uniformly random order (Fisher-Yates), drawn from `random`. */
function shuffled (items, random) {
  const out = [...items]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[out[i], out[j]] = [out[j], out[i]]
  }
  return out
}

/** The value at fraction `q` of sorted `values` (nearest rank). */
export function quantile (values, q) {
  if (values.length === 0) return undefined
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]
}

function pick (items, random) {
  return items[Math.floor(random() * items.length)]
}

/** A seeded PRNG (mulberry32), so a run's choices can be repeated. */
export function seededRandom (seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

async function inBatches (items, size, fn) {
  const out = []
  for (let i = 0; i < items.length; i += size) {
    out.push(...await Promise.all(items.slice(i, i + size).map((item, j) => fn(item, i + j))))
  }
  return out
}

const sleep = (ms) => new Promise(resolve => setTimeout(resolve, ms))

/**
 * Runs a network of `nodes` DDS nodes and its scenarios; resolves with the
 * results (see doc/TESTBED.md, "A network of many"). Tears everything down
 * before it resolves or rejects.
 *
 * @param {object} opts  `nodes`, and any of SCALE_DEFAULTS; `churn: { pct, intervalMs }` turns the churn phase on
 * @param {{ onProgress?: (text: string) => void, seed?: number }} [hooks]
 */
export async function runScale (opts, { onProgress = () => {}, seed = Date.now(), onStart = () => {} } = {}) {
  const o = { ...SCALE_DEFAULTS, ...opts }
  const random = seededRandom(seed)
  // every node talks only to nodes: the delay held on the way up takes each
  // way between two nodes what both links' halves took, for half the delayers' work
  const link = { delayMs: o.delayMs, delayOn: 'up', loss: o.lossPct / 100, ...(o.rate != null ? { rate: o.rate } : {}) }
  const result = {
    seed,
    options: { ...o, nodesPerProcess: 1, nodesPerNamespace: 1, roundTripMs: 4 * o.delayMs },
    startedAt: new Date().toISOString()
  }
  // the caller may keep it, to write what was measured if the run is cut short
  onStart(result)
  const t0 = performance.now()
  const tb = await createTestbed()
  result.namespacePrefix = tb.prefix
  /** @type {ScaleNode[]} the live node of each host, by index */
  const nodes = []
  let generation = 0
  const nodeInit = (host, bootstrap) => ({
    listen: [`/ip4/${host.address}/tcp/${NODE_PORT}`, `/ip4/${host.address}/udp/${NODE_PORT}/quic-v1`],
    bootstrap,
    // 50 node processes keep 2 cores busy while more join: a join may take longer than the default 10 s
    bootstrapTimeoutMs: 60_000,
    ...(o.checkIntervalMs != null ? { replication: { checkIntervalMs: o.checkIntervalMs } } : {})
  })
  result.startFailures = []
  /**
   * Starts a node on `host` that bootstraps from `bootstrapFrom` (nodes, or a
   * function that picks them: a second try then picks others).
   */
  const start = async (host, bootstrapFrom, attempt = 1) => {
    const from = typeof bootstrapFrom === 'function' ? bootstrapFrom() : bootstrapFrom
    const bootstrap = from.map(n => n.addr)
    const init = nodeInit(host, bootstrap)
    const node = new ScaleNode(host, init, generation++)
    // a start that neither finishes nor fails within its bootstrap deadline and some is ended, not waited for
    const waitMs = init.bootstrapTimeoutMs + ANSWER_WITHIN_MS
    const late = rejectAfter(waitMs, () => new Error(`node ${host.name} was not ready ${waitMs} ms after it was started: ${errorLines(node.stderr)}`))
    try {
      await Promise.race([
        node.ready,
        node.exited.then(() => { throw new Error(`node ${host.name} exited before it was ready: ${errorLines(node.stderr)}`) }),
        late.promise
      ])
    } catch (err) {
      await node.kill()
      // on a loaded machine a join can time out: one more try, recorded
      if (attempt > 1) throw err
      result.startFailures.push({ node: host.name, bootstrap: from.map(n => n.host.name), error: err.message.slice(0, 1000) })
      onProgress(`node ${host.name} failed to start, trying again: ${err.message.slice(0, 200)}`)
      return start(host, bootstrapFrom, attempt + 1)
    } finally {
      late.clear()
    }
    return node
  }
  try {
    // hosts
    const hosts = []
    await inBatches([...Array(o.nodes).keys()], 8, async (i) => {
      hosts[i] = await tb.addPublicHost(`n${i}`, link)
      onProgress(`building hosts ${hosts.filter(Boolean).length}/${o.nodes}`)
    })
    result.buildMs = Math.round(performance.now() - t0)

    // nodes: the first alone, then the rest a few at a time, each bootstrapping from earlier ones
    const startT = performance.now()
    nodes[0] = await start(hosts[0], [])
    await inBatches([...Array(o.nodes - 1).keys()].map(i => i + 1), o.startConcurrency, async (i) => {
      const earlier = nodes.filter(Boolean)
      nodes[i] = await start(hosts[i], () => [...new Set(Array.from({ length: o.bootstrapPeers }, () => pick(earlier, random)))])
      onProgress(`starting nodes ${nodes.filter(Boolean).length}/${o.nodes}`)
    })
    result.startMs = Math.round(performance.now() - startT)

    // the DHT forms: every routing table holds formedTableSize peers (or all the others)
    const want = Math.min(o.nodes - 1, o.formedTableSize)
    const formDeadline = performance.now() + o.formTimeoutPerNodeMs * o.nodes + 60_000
    let tables = []
    for (;;) {
      tables = await Promise.all(nodes.map(async n => (await n.ask('info')).routingTable))
      const formed = tables.filter(size => size >= want).length
      onProgress(`DHT forming: ${formed}/${o.nodes} nodes have ${want}+ peers in their routing table (min ${Math.min(...tables)})`)
      if (formed === o.nodes) break
      if (performance.now() > formDeadline) {
        throw new Error(`the DHT did not form: routing table sizes ${tables.join(',')} (wanted ${want} each)`)
      }
      await sleep(500)
    }
    result.dhtFormedMs = Math.round(performance.now() - startT)
    result.routingTable = { min: Math.min(...tables), median: quantile(tables, 0.5), max: Math.max(...tables) }

    // memory per idle node
    const idle = await Promise.all(nodes.map(n => n.memory()))
    result.memoryIdle = memoryStats(idle.map(m => m.rss))

    // publishing: `publishers` distinct random nodes, one content each
    const order = [...nodes.keys()].sort(() => random() - 0.5)
    const publishers = order.slice(0, Math.min(o.publishers, o.nodes))
    const contents = []
    const pubT = performance.now()
    await inBatches(publishers, 4, async (index, k) => {
      const t = performance.now()
      const got = await nodes[index].ask('publish', { size: o.sizeBytes, seed: k + 1 + index * 1000 })
      contents.push({ cid: got.cid, sha256: got.sha256, publisher: index, publishMs: Math.round(performance.now() - t) })
      onProgress(`publishing ${contents.length}/${publishers.length}`)
    })
    result.publish = { contents: contents.length, sizeBytes: o.sizeBytes, ms: Math.round(performance.now() - pubT), each: contents.map(c => ({ cid: c.cid, publisher: c.publisher, ms: c.publishMs })) }

    // first byte: `retrievals` retrievals, each by a random node of content published by another
    const samples = []
    // a run cut short keeps the samples taken so far (replaced by the phase's figures at its end)
    result.firstByte = { samples }
    const nodesCpu = async () => cpuOfNodes(nodes)
    const phaseCpu = { nodes: await nodesCpu(), machine: await machineCpu(), t: performance.now() }
    for (let i = 0; i < o.retrievals; i++) {
      const c = pick(contents, random)
      // a node that holds no copy (a replica's retrieval would be local)
      const candidates = [...nodes.keys()].filter(k => k !== c.publisher).sort(() => random() - 0.5)
      let by = candidates[0]
      for (const k of candidates) {
        if (!(await nodes[k].ask('holds')).cids.includes(c.cid)) { by = k; break }
      }
      const sample = { node: by, cid: c.cid }
      const cpu = await machineCpu()
      try {
        // TESTBED_PROFILE_DIR: a CPU profile of each of these retrievals (only these) goes there
        const got = await nodes[by].ask('retrieve', { cid: c.cid, timeoutMs: o.retrievalTimeoutMs, profile: process.env.TESTBED_PROFILE_DIR })
        Object.assign(sample, { ok: got.sha256 === c.sha256, firstByteMs: Math.round(got.firstByteMs), ms: Math.round(got.ms), bytes: got.bytes, connectedBefore: got.connectedBefore, timeline: got.timeline })
      } catch (err) {
        Object.assign(sample, { ok: false, error: err.message.slice(0, 1000), ...(err.timeline != null ? { timeline: err.timeline } : {}) })
      } finally {
        // the share of the machine's CPU time busy during the retrieval: at scale every node shares the same cores
        sample.machineBusy = round2(busyShare(cpu, await machineCpu()))
      }
      samples.push(sample)
      const okSoFar = samples.filter(s => s.ok)
      onProgress(`first byte: ${samples.length}/${o.retrievals} retrievals, ${okSoFar.length} ok, median ${quantile(okSoFar.map(s => s.firstByteMs), 0.5) ?? '-'} ms`)
    }
    const ok = samples.filter(s => s.ok)
    const machineNow = await machineCpu()
    const phaseS = (performance.now() - phaseCpu.t) / 1000
    result.firstByte = {
      // cores in use over the phase: by the node processes, and by everything on the machine
      cores: { nodes: round2((await nodesCpu() - phaseCpu.nodes) / 1000 / phaseS), machine: round2(busyShare(phaseCpu.machine, machineNow) * machineNow.cpus) },
      retrievals: samples.length,
      ok: ok.length,
      firstByteMs: { median: quantile(ok.map(s => s.firstByteMs), 0.5), p95: quantile(ok.map(s => s.firstByteMs), 0.95), max: quantile(ok.map(s => s.firstByteMs), 1) },
      mibPerS: { median: round2(quantile(ok.map(s => s.bytes / 1048576 / (s.ms / 1000)), 0.5)), p5: round2(quantile(ok.map(s => s.bytes / 1048576 / (s.ms / 1000)), 0.05)) },
      failures: samples.filter(s => !s.ok),
      // each retrieval, slowest first byte first, with where its time went
      samples: [...samples].sort((a, b) => (b.firstByteMs ?? Infinity) - (a.firstByteMs ?? Infinity))
    }
    const loaded = await Promise.all(nodes.map(n => n.memory()))
    result.memoryLoaded = memoryStats(loaded.map(m => m.peak))

    if (o.announceRecords > 0) {
      // a failure here is recorded, not lost with the figures before it
      result.announce = {}
      await announcePhase({ o, nodes, random, onProgress, out: result.announce }).catch(err => { result.announce.error = err.message.slice(0, 2000) })
    }

    if (o.churn != null) {
      await churnPhase({ o, nodes, hosts, contents, random, start, onProgress, result })
    }

    if (o.idleCpuMs > 0) {
      onProgress(`idle: the network left alone for ${o.idleCpuMs / 1000} s, its CPU measured`)
      result.idle = await idleCpu(nodes.filter(n => n.alive), o.idleCpuMs)
    }
  } finally {
    onProgress('tearing down')
    const teardownT = performance.now()
    await tb.teardown()
    result.teardownMs = Math.round(performance.now() - teardownT)
  }
  result.totalMs = Math.round(performance.now() - t0)
  return result
}

/** CPU time the node processes `nodes` have used so far, summed, in ms. */
async function cpuOfNodes (nodes) {
  return (await Promise.all(nodes.map(async n => (await n.ask('info')).cpuMs))).reduce((a, b) => a + b, 0)
}

/**
 * What `nodes` cost in CPU over `ms` with nothing asked of them (connection
 * pings, the DHT's refresh, replication checks): the cores their processes
 * and the whole machine used, and each node's CPU per minute.
 */
async function idleCpu (nodes, ms) {
  const t = performance.now()
  const before = { nodes: await cpuOfNodes(nodes), machine: await machineCpu() }
  await sleep(ms)
  const used = await cpuOfNodes(nodes) - before.nodes
  const machine = await machineCpu()
  const seconds = (performance.now() - t) / 1000
  return {
    nodes: nodes.length,
    seconds: round2(seconds),
    cores: { nodes: round2(used / 1000 / seconds), machine: round2(busyShare(before.machine, machine) * machine.cpus) },
    msPerNodeMinute: Math.round(used / nodes.length / seconds * 60)
  }
}

/** The lines of a node's stderr that say what went wrong (the error and its message, not the stack). */
function errorLines (stderr) {
  const lines = stderr.trim().split('\n').filter(l => l.trim() !== '' && !/^\s+at /.test(l) && !/^Node\.js v/.test(l))
  return lines.slice(-4).join(' | ').slice(-800)
}

/** The machine's CPU time so far, busy and in all, in clock ticks, and its CPUs (from /proc/stat). */
async function machineCpu () {
  const lines = (await readFile('/proc/stat', 'utf8')).split('\n')
  const [user, nice, system, idle, iowait, irq, softirq, steal] = lines[0].trim().split(/\s+/).slice(1).map(Number)
  const busy = user + nice + system + irq + softirq + steal
  return { busy, total: busy + idle + iowait, cpus: lines.filter(l => /^cpu\d+ /.test(l)).length }
}

/** The share of the machine's CPU time that was busy between two `machineCpu()` readings. */
function busyShare (before, after) {
  return (after.busy - before.busy) / Math.max(1, after.total - before.total)
}

function round2 (x) {
  return x == null ? undefined : Math.round(x * 100) / 100
}

function memoryStats (bytes) {
  const mib = bytes.filter(Number.isFinite).map(b => b / 1048576)
  return { nodes: mib.length, medianMiB: round2(quantile(mib, 0.5)), maxMiB: round2(quantile(mib, 1)), totalMiB: round2(mib.reduce((a, b) => a + b, 0)) }
}

/**
 * Announcing at scale: one random node announces `announceSingles` made-up
 * records one DHT provide each (8 at a time, as the announce queue did), then
 * `announceRecords` others in one sweep; three other nodes then look up a
 * sample of each set on the DHT.
 */
async function announcePhase ({ o, nodes, random, onProgress, out }) {
  const announcer = pick(nodes, random)
  out.node = announcer.host.name
  onProgress(`announcing: ${o.announceSingles} records one by one`)
  out.single = await announcer.ask('announce', { mode: 'single', count: o.announceSingles, seed: 1 })
  onProgress(`announcing: ${o.announceRecords} records in one sweep`)
  const progress = setInterval(() => { onProgress(`announcing: ${o.announceRecords} records in one sweep`) }, 5_000)
  try {
    out.sweep = await announcer.ask('announce', { mode: 'sweep', count: o.announceRecords, seed: 2 })
  } finally {
    clearInterval(progress)
  }
  for (const part of [out.single, out.sweep]) {
    part.perS = round2(1000 * (part === out.single ? o.announceSingles : o.announceRecords) / part.ms)
  }
  out.speedup = round2(out.sweep.perS / out.single.perS)
  const finders = nodes.filter(n => n !== announcer).sort(() => random() - 0.5).slice(0, 3)
  const sample = (count) => Array.from({ length: 10 }, () => Math.floor(random() * count))
  out.found = { single: 0, sweep: 0, looked: 0 }
  for (const finder of finders) {
    onProgress(`announcing: ${finder.host.name} looks the records up`)
    out.found.single += (await finder.ask('findMadeUp', { seed: 1, count: o.announceSingles, indices: sample(o.announceSingles), provider: announcer.peerId })).found
    out.found.sweep += (await finder.ask('findMadeUp', { seed: 2, count: o.announceRecords, indices: sample(o.announceRecords), provider: announcer.peerId })).found
    out.found.looked += 10
  }
  out.reannounce = {}
  await reannounceWhileServing({ announcer, finders, onProgress, out: out.reannounce, samples: o.reannounceSamples })
}

/**
 * The announcer publishes content and another node retrieves it: once to
 * warm up (not counted), `samples` times before, again and again
 * while the announcer runs its whole re-announcement cycle at once (every
 * record it holds, the sweep's and the one-by-one ones), and
 * `samples` times after: throughput during against the median of
 * before and after (the network's own drift is in both).
 */
async function reannounceWhileServing ({ announcer, finders, onProgress, out, samples }) {
  const size = 16 * 1024 * 1024
  out.contentBytes = size
  const { cid, sha256 } = await announcer.ask('publish', { size, seed: 777 })
  const retriever = finders[0]
  const failures = out.failures = []
  /** One retrieval's MiB/s, or undefined when it failed (recorded). */
  const once = async (when) => {
    try {
      const got = await retriever.ask('retrieve', { cid, timeoutMs: 120_000 })
      if (got.sha256 !== sha256) throw new Error('wrong bytes')
      return got.bytes / 1048576 / (got.ms / 1000)
    } catch (err) {
      failures.push({ when, error: err.message.slice(0, 1000) })
      return undefined
    }
  }
  onProgress('re-announcing: a first retrieval to warm up')
  out.warmUpMibs = round2(await once('warm-up'))
  const before = out.beforeMibs = []
  for (let i = 0; i < samples; i++) {
    onProgress(`re-announcing: retrieval ${i + 1}/${samples} before`)
    const mibs = await once('before')
    if (mibs != null) before.push(mibs)
  }
  const during = out.duringMibs = []
  const cpu = await machineCpu()
  const running = announcer.ask('reannounceAll', {}).then(async r => {
    const now = await machineCpu()
    // how busy the whole machine was: every node shares its cores
    out.cycle = { ...r, machineBusy: round2(busyShare(cpu, now)) }
  })
  let done = false
  running.finally(() => { done = true }).catch(() => {})
  for (let attempt = 1; !done; attempt++) {
    // attempts, not successes: a retrieval that fails must not read as one that never ends
    const failed = failures.filter(f => f.when === 'during').length
    onProgress(`re-announcing: retrieval ${attempt} while the cycle runs (${during.length} ok, ${failed} failed)`)
    const mibs = await once('during')
    if (!done && mibs != null) during.push(mibs)
  }
  await running
  const after = []
  for (let i = 0; i < samples; i++) {
    onProgress(`re-announcing: retrieval ${i + 1}/${samples} after`)
    const mibs = await once('after')
    if (mibs != null) after.push(mibs)
  }
  const median = (xs) => quantile(xs, 0.5)
  const without = [...before, ...after]
  out.ratio = during.length === 0 || without.length === 0 ? undefined : round2(median(during) / median(without))
  out.beforeMibs = before.map(round2)
  out.duringMibs = during.map(round2)
  out.afterMibs = after.map(round2)
  out.medianMibs = { without: round2(median(without)), during: round2(median(during)) }
}

/** What each live node holds in full: node index -> set of manifest CIDs, or undefined when it did not answer. */
async function holdersByNode (nodes) {
  const out = new Map()
  await Promise.all(nodes.map(async (n, i) => {
    if (!n.alive) return
    const answer = await n.ask('holds', {}, ANSWER_WITHIN_MS).catch(() => undefined)
    out.set(i, answer == null ? undefined : new Set(answer.cids))
  }))
  return out
}

/** The indexes of the nodes that hold `cid` in full, in a `holdersByNode` answer. */
function holdingIt (holding, cid) {
  return [...holding].filter(([, cids]) => cids?.has(cid)).map(([i]) => i)
}

/** Node names by the last 6 characters of their peer ids (how a retrieval's timeline names peers), the killed ones included. */
function peerNames (nodes, departed) {
  const names = new Map()
  for (const [peerId, name] of departed) names.set(String(peerId).slice(-6), name)
  for (const n of nodes) {
    if (n.peerId != null) names.set(String(n.peerId).slice(-6), `${n.host.name}#${n.generation}`)
  }
  return names
}

/** A retrieval's timeline with its peers named. */
function namedTimeline (timeline, names) {
  const name = (short) => names.get(short) ?? short
  return {
    ...timeline,
    failed: timeline.failed?.map(f => ({ ...f, peer: name(f.peer) })),
    manifest: timeline.manifest == null ? undefined : { ...timeline.manifest, from: name(timeline.manifest.from) },
    firstChunk: timeline.firstChunk == null ? undefined : { ...timeline.firstChunk, from: name(timeline.firstChunk.from) },
    opened: timeline.opened?.map(o => ({ ...o, peer: name(o.peer) }))
  }
}

/** Holders of each content among the live nodes: cid -> number of nodes holding it in full. */
async function holders (nodes, contents) {
  const counts = new Map(contents.map(c => [c.cid, 0]))
  for (const cids of (await holdersByNode(nodes)).values()) {
    for (const cid of cids ?? []) {
      if (counts.has(cid)) counts.set(cid, counts.get(cid) + 1)
    }
  }
  return counts
}

/**
 * Waits until every content has `factor` live holders; resolves with how
 * long it took, or undefined at the deadline or once `signal` aborts.
 */
async function untilAtFactor (nodes, contents, factor, deadlineMs, onProgress, what, signal) {
  const t = performance.now()
  for (;;) {
    if (signal?.aborted) return { ms: undefined, holders: [] }
    const counts = await holders(nodes, contents)
    const low = [...counts.values()].filter(n => n < factor).length
    onProgress(`${what}: ${contents.length - low}/${contents.length} contents at factor ${factor}`)
    if (low === 0) return { ms: Math.round(performance.now() - t), holders: [...counts.values()] }
    if (performance.now() - t > deadlineMs) return { ms: undefined, holders: [...counts.values()] }
    await sleep(1_000)
  }
}

/**
 * Churn: every `intervalMs`, `pct` % of the nodes are SIGKILLed and replaced
 * by fresh nodes (new identities, in the same namespaces) that bootstrap from
 * live ones, for `durationS`; a probe retrieves random content from a random
 * live node every `probeIntervalMs`. Then waits for every content to be back
 * at its replication factor, but those a round took whole (every holder
 * killed at once: `gone`, counted apart). What it measures is
 * `result.churn`, filled as it goes (a run cut short keeps it).
 */
async function churnPhase ({ o, nodes, hosts, contents, random, start, onProgress, result }) {
  const factor = 3
  const checkMs = o.checkIntervalMs ?? 300_000
  const out = { pct: o.churn.pct, intervalMs: o.churn.intervalMs, durationS: o.durationS, rounds: [], probes: { sent: 0, ok: 0, proberKilled: 0, contentGone: 0, failures: [] } }
  // a run cut short keeps the rounds and probes so far
  result.churn = out
  out.beforeChurn = await untilAtFactor(nodes, contents, factor, 2 * checkMs + 60_000, onProgress, 'replicating before churn')

  const perRound = Math.max(1, Math.round(nodes.length * o.churn.pct / 100))
  const churnStart = performance.now()
  const endAt = churnStart + o.durationS * 1000
  /** Counting holders after the last round (see below). */
  let back
  const churning = new AbortController()
  let stopping = false
  /**
   * Contents whose every holder one round killed at once, while they were at
   * their factor: gone for good (a fresh node has an empty store), which no
   * repair can prevent. Content that lost its last holder while below its
   * factor is not among them: that is repair falling behind.
   */
  const gone = new Set()
  /** Killed nodes' peer ids, for naming them in probe failures. */
  const departed = new Map()
  const probeMs = []
  const inFlight = new Set()
  const probeOnce = async () => {
    const live = nodes.filter(n => n.alive && n.peerId != null)
    const c = pick(contents, random)
    const by = pick(live, random)
    out.probes.sent++
    const t = performance.now()
    try {
      // a retrieval that outlives its deadline by far is recorded as such, not waited for
      const got = await by.ask('retrieve', { cid: c.cid, timeoutMs: o.retrievalTimeoutMs }, o.retrievalTimeoutMs + ANSWER_WITHIN_MS)
      if (got.sha256 !== c.sha256) throw new Error('wrong bytes')
      out.probes.ok++
      probeMs.push(performance.now() - t)
    } catch (err) {
      // a probe whose own node the churn killed says nothing of the network: counted apart
      const proberKilled = !by.alive
      // nor does one of content the churn took whole (see `gone`)
      const contentGone = !proberKilled && gone.has(c.cid)
      if (proberKilled) out.probes.proberKilled++
      if (contentGone) out.probes.contentGone++
      const failure = { atS: Math.round((performance.now() - churnStart) / 1000), node: by.host.name, generation: by.generation, cid: c.cid, proberKilled, contentGone, ...(err.unanswered ? { unanswered: true } : {}), error: err.message.slice(0, 8000) }
      out.probes.failures.push(failure)
      if (!proberKilled) {
        // whom it asked and who held the content: peers by node name, and who holds it in full now
        failure.timeline = err.timeline == null ? undefined : namedTimeline(err.timeline, peerNames(nodes, departed))
        failure.holdersNow = holdingIt(await holdersByNode(nodes), c.cid).map(i => nodes[i].host.name)
      }
    }
  }
  const prober = (async () => {
    while (!stopping) {
      const p = probeOnce()
      inFlight.add(p)
      p.finally(() => inFlight.delete(p))
      await sleep(o.probeIntervalMs)
    }
  })()
  const progress = setInterval(() => {
    onProgress(`churn: round ${out.rounds.length}, ${Math.max(0, Math.round((endAt - performance.now()) / 1000))} s left, probes ${out.probes.ok}/${out.probes.sent} ok`)
  }, 1_000)
  try {
    // rounds at fixed times (start + k x interval), however long a rejoin
    // takes: a round's fresh nodes start in the background, and the next
    // round's victims are drawn from the nodes that are up then
    let quiet = true
    /** Node indexes whose fresh node is still starting. */
    const rejoining = new Set()
    const joins = []
    let joinFailure
    for (let k = 1; ; k++) {
      const at = churnStart + k * o.churn.intervalMs
      if (at >= endAt) break
      await sleep(Math.max(0, at - performance.now()))
      if (joinFailure != null) throw joinFailure
      const up = [...nodes.keys()].filter(i => nodes[i].alive && !rejoining.has(i))
      // a uniform choice (the chance of taking every holder at once in doc/TESTBED.md assumes it)
      const victims = shuffled(up, random).slice(0, perRound)
      // who holds what just before the kills: which contents this round takes whole
      // (read ahead of time, a copy made meanwhile would count as lost)
      const holding = await holdersByNode(nodes)
      const t = performance.now()
      for (const i of victims) departed.set(nodes[i].peerId, `${nodes[i].host.name}#${nodes[i].generation} (killed)`)
      await Promise.all(victims.map(i => nodes[i].kill()))
      const round = { atS: Math.round((t - churnStart) / 1000), killed: victims.map(i => hosts[i].name), stillJoining: rejoining.size, lost: [] }
      // a survivor that did not say what it holds may hold anything: nothing is counted lost then
      round.unanswered = [...holding].filter(([i, cids]) => cids == null && !victims.includes(i)).length
      for (const c of round.unanswered > 0 ? [] : contents) {
        const had = holdingIt(holding, c.cid)
        if (had.length > 0 && had.every(i => victims.includes(i))) {
          // at its factor when the round began: gone whole; below it: repair had not caught up
          round.lost.push({ cid: c.cid, holders: had.length })
          if (had.length >= factor) gone.add(c.cid)
        }
      }
      if (churnStart + (k + 1) * o.churn.intervalMs >= endAt) {
        // the last round: holders are counted from its kills on, while its nodes
        // rejoin and the probes still run (each pass reads `nodes` afresh and
        // skips dead nodes), so back at factor is timed from the kills
        back = untilAtFactor(nodes, contents.filter(c => !gone.has(c.cid)), factor, o.factorWaitIntervals * checkMs, (line) => { if (!quiet) onProgress(line) }, 'back to factor after churn', churning.signal)
        // awaited after the probes; a failure meanwhile must not go unhandled
        back.catch(() => {})
      }
      out.rounds.push(round)
      const survivors = up.filter(i => !victims.includes(i)).map(i => nodes[i])
      victims.forEach(i => rejoining.add(i))
      const join = inBatches(victims, o.startConcurrency, async (i) => {
        nodes[i] = await start(hosts[i], () => [...new Set(Array.from({ length: o.bootstrapPeers }, () => pick(survivors.filter(n => n.alive), random) ?? pick(survivors, random)))])
        rejoining.delete(i)
      }).then(() => { round.rejoinMs = Math.round(performance.now() - t) })
      // a failed start ends the churn at the next round (or after the last)
      join.catch((err) => { joinFailure ??= err })
      joins.push(join)
    }
    // every fresh node has started before the end is measured
    await Promise.all(joins)
    // the probes run for the whole duration, past the last round
    await sleep(Math.max(0, endAt - performance.now()))
    quiet = false
  } catch (err) {
    // a failed round ends the count too: the nodes are about to be torn down
    churning.abort()
    throw err
  } finally {
    stopping = true
    clearInterval(progress)
    await prober
    await Promise.allSettled([...inFlight])
  }
  out.probes.successRate = out.probes.sent === 0 ? undefined : out.probes.ok / out.probes.sent
  // the target's rate: probes whose own node lived through them
  const counted = out.probes.sent - out.probes.proberKilled
  out.probes.successRateLiveProbers = counted === 0 ? undefined : out.probes.ok / counted
  // and of those, the probes of content that still existed
  const existing = counted - out.probes.contentGone
  out.probes.successRateExisting = existing === 0 ? undefined : out.probes.ok / existing
  out.gone = [...gone]
  out.probes.medianMs = Math.round(quantile(probeMs, 0.5) ?? NaN)
  out.checkIntervalMs = checkMs
  // measured from the last round's kills
  out.afterChurn = back != null ? await back : await untilAtFactor(nodes, contents.filter(c => !gone.has(c.cid)), factor, o.factorWaitIntervals * checkMs, onProgress, 'back to factor after churn')
  out.afterChurn.checkIntervals = out.afterChurn.ms == null ? undefined : round2(out.afterChurn.ms / checkMs)
}
