// One measurement each: start the role processes it needs, take the figure,
// stop them. Every retrieval is checked (length and sampled fingerprint)
// before its figures count.
import { MiB } from './content.mjs'
import { mibPerSec } from './stats.mjs'
import { startRole } from './proc.mjs'

/** Generous deadline for moving `bytes` (a safety net, not a measurement). */
function deadlineMs (bytes) {
  return 60_000 + (bytes / MiB) * 500
}

/**
 * One libp2p stream pushing `bytes` between two fresh processes. The sink
 * (receiver) may listen elsewhere than 127.0.0.1, in a namespace.
 */
export async function rawStreamOnce (ctx, bytes, { sinkListen, sinkNetns, sourceNetns } = {}) {
  const sink = await startRole('raw-stream', { mode: 'sink', listen: sinkListen }, { label: 'raw-stream-sink', netns: sinkNetns })
  try {
    const source = await startRole('raw-stream', { mode: 'source', target: sink.info.multiaddrs[0] }, { label: 'raw-stream-source', netns: sourceNetns })
    try {
      const r = await source.call('push', { bytes }, deadlineMs(bytes))
      const cpu = await sink.call('cpu', {})
      return { mibs: mibPerSec(r.bytes, r.ms), sinkCpuMsPerMiB: cpu.cpuMs / (cpu.bytes / MiB), sinkPeakRssMiB: cpu.peakRssBytes / MiB }
    } finally {
      await source.stop()
    }
  } finally {
    await sink.stop()
  }
}

/** LevelDB batch puts of the content's chunks, in a fresh process and directory. */
export async function rawLevelOnce (ctx, content) {
  const dir = await ctx.tempDir('raw-level')
  const proc = await startRole('raw-level', { dir, batch: ctx.levelBatch }, { label: 'raw-level' })
  try {
    const r = await proc.call('run', { source: content.source }, deadlineMs(content.size))
    return { mibs: mibPerSec(r.bytes, r.ms) }
  } finally {
    await proc.stop()
    await ctx.removeDir(dir)
  }
}

/**
 * Starts a DDS seeder and publishes the content on it: into DDS's LevelDB
 * store, or with `stores: 'blockstore-level'` into blockstore-level +
 * datastore-level through `Dds.create({ blockstore, datastore })`.
 */
export async function startDdsSeeder (ctx, content, { label = 'dds-seeder', listen, netns, stores, defaults = false } = {}) {
  const dir = await ctx.tempDir(label)
  const roleOptions = defaults
    ? { storage: 'memory', listen: listen ?? ['/ip4/127.0.0.1/tcp/0'], defaults: true }
    : { storage: dir, stores, listen, announce: ctx.options.announce }
  const proc = await startRole('dds-seeder', roleOptions, { label, netns })
  try {
    const r = await proc.call('publish', { source: content.source }, deadlineMs(content.size) * 2)
    if (r.bytes !== content.size) {
      throw new Error(`${label} published ${r.bytes} bytes, expected ${content.size}`)
    }
    return { proc, dir, cid: r.cid, addrs: proc.info.multiaddrs, mibs: mibPerSec(content.size, r.ms), announceMs: r.announceMs, pendingAnnouncements: r.pendingAnnouncements }
  } catch (err) {
    await proc.stop()
    throw err
  }
}

/** Starts a Helia seeder (blockstore-level) and imports the content on it. */
export async function startHeliaSeeder (ctx, content, { label = 'helia-seeder' } = {}) {
  const dir = await ctx.tempDir(label)
  const proc = await startRole('helia-seeder', { dir }, { label })
  try {
    const r = await proc.call('import', { source: content.source }, deadlineMs(content.size) * 2)
    return { proc, dir, cid: r.cid, addrs: proc.info.multiaddrs, mibs: mibPerSec(content.size, r.ms) }
  } catch (err) {
    await proc.stop()
    throw err
  }
}

/** Stops seeders and removes their stores. */
export async function stopSeeders (ctx, seeders) {
  await Promise.all(seeders.map(async (s) => {
    await s.proc.stop()
    await ctx.removeDir(s.dir)
  }))
}

/** A fresh DDS retriever joins `seeders` and retrieves the content once. */
export async function ddsRetrieveOnce (ctx, content, seeders, { label = 'dds-retriever', netns, defaults = false } = {}) {
  const bootstrap = seeders.flatMap(s => s.addrs.slice(0, 1))
  const proc = await startRole('dds-retriever', { bootstrap, ...(defaults ? { defaults: true } : {}) }, { label, netns })
  try {
    const r = await proc.call('retrieve', { cid: seeders[0].cid, size: content.size }, deadlineMs(content.size))
    check(label, r, content)
    return {
      ...figures(r, content),
      manifestMs: r.manifestMs,
      ...(r.sinceStartMs != null && defaults ? { fromStartMibs: mibPerSec(content.size, r.sinceStartMs) } : {}),
      peerRatio: r.peerBytes / content.size,
      peers: Object.keys(r.perPeer).length,
      providerFailures: r.providerFailures
    }
  } finally {
    await proc.stop()
  }
}

/** A fresh Helia retriever connects to `seeders` and cats the content once. */
export async function heliaRetrieveOnce (ctx, content, seeders, { label = 'helia-retriever' } = {}) {
  const dir = await ctx.tempDir(label)
  const proc = await startRole('helia-retriever', { dir, peers: seeders.map(s => s.addrs[0]) }, { label })
  try {
    const r = await proc.call('retrieve', { cid: seeders[0].cid, size: content.size }, deadlineMs(content.size))
    check(label, r, content)
    return figures(r, content)
  } finally {
    await proc.stop()
    await ctx.removeDir(dir)
  }
}

function check (label, r, content) {
  if (r.bytes !== content.size) {
    throw new Error(`${label} got ${r.bytes} bytes, expected ${content.size}`)
  }
  if (r.fingerprint !== content.fingerprint) {
    throw new Error(`${label} got the right length but the wrong bytes (sampled fingerprint differs)`)
  }
}

/**
 * `mibs`: content size over the time from the retrieve call to the last
 * byte; `afterFirstMibs`: the bytes after the first piece over the time after
 * it (the transfer without the lookup); `readyRssMiB`: the retriever's RSS
 * before it retrieved anything; `heapMiB`/`arrayBuffersMiB`: peaks of the JS
 * heap in use and of Buffer/ArrayBuffer memory during the retrieval.
 */
function figures (r, content) {
  return {
    mibs: mibPerSec(content.size, r.ms),
    afterFirstMibs: mibPerSec(content.size - r.firstBytes, r.ms - r.ttfbMs),
    ttfbMs: r.ttfbMs,
    wireRatio: r.wireBytes / content.size,
    rssMiB: r.peakRssBytes / MiB,
    ...(r.cpuMs != null ? { cpuMsPerMiB: r.cpuMs / (content.size / MiB) } : {}),
    readyRssMiB: r.readyRssBytes / MiB,
    heapMiB: r.peakHeapUsedBytes / MiB,
    arrayBuffersMiB: r.peakArrayBuffersBytes / MiB
  }
}
