// Role: a DDS node with a LevelDB store that publishes content and then
// serves it. `publish` is timed as a user sees it: from the call until the
// returned promise resolves (chunked, hashed, stored, manifest announced).
// The background chunk announcements are then awaited (bounded), outside the
// timing, so they do not compete with later measurements.
//
// Options: { storage: '<dir>', stores?: 'blockstore-level', listen?: ['<multiaddr>'], announce?: 'manifest' | 'all', bandwidth?: { upload?, download?, uploadPerPeer? } }
//   stores: 'blockstore-level' keeps the blocks in a blockstore-level LevelBlockstore at <dir>/blocks
//   and the records in a datastore-level LevelDatastore at <dir>/datastore, through
//   Dds.create({ blockstore, datastore }), instead of DDS's own LevelDB store at <dir>.
// Ops: publish { source } -> { cid, bytes, ms, announceMs, pendingAnnouncements };
//      connect { addrs } joins other seeders (as nodes of one network);
//      stats {} -> the node's stats()
import { join } from 'node:path'
import { Dds } from '@digisocialblock/dds'
import { openContent } from '../lib/content.mjs'
import { roleOptions, serve } from '../lib/role.mjs'

const ANNOUNCE_WAIT_MS = 120_000
const options = roleOptions()

/** The store options of the node, and what closes what the role opened. */
async function storesOf ({ storage, stores }) {
  if (stores == null) {
    return { init: { storage }, close: async () => {} }
  }
  if (stores !== 'blockstore-level') {
    throw new Error(`unknown stores "${stores}"`)
  }
  const { LevelBlockstore } = await import('blockstore-level')
  const { LevelDatastore } = await import('datastore-level')
  const blockstore = new LevelBlockstore(join(storage, 'blocks'))
  const datastore = new LevelDatastore(join(storage, 'datastore'))
  return { init: { blockstore, datastore }, close: async () => { await blockstore.close(); await datastore.close() } }
}

const stores = await storesOf(options)
// `defaults: true`: the options a user of the quick start has (memory store
// unless `storage` says otherwise), only the listen address pinned to
// 127.0.0.1; `publish` then resolves without waiting for the announcements.
const node = options.defaults === true
  ? await Dds.create({ ...stores.init, ...(options.listen != null ? { listen: options.listen } : {}) })
  : await Dds.create({
  ...stores.init,
  // measure transfers, not background copies between the seeders
  replication: { factor: 1 },
  // The library's default. The seeders know no DHT peer when they publish,
  // so with 'all' every chunk announcement waits for the first peer that
  // connects: the retriever, which would then take ~1000 provider records
  // per 256 MiB per seeder while it retrieves. See docs/benchmarks.md
  // ("Announcements").
  announce: options.announce ?? 'manifest',
  ...(options.listen != null ? { listen: options.listen } : {}),
  ...(options.bandwidth != null ? { bandwidth: options.bandwidth } : {})
})

async function publish ({ source }) {
  let bytes = 0
  const started = performance.now()
  const cid = await node.publish(openContent(source), {
    onProgress: (evt) => {
      if (evt.type === 'dds:publish:stored') {
        bytes = evt.detail.size
      }
    }
  })
  const ms = performance.now() - started
  if (options.defaults === true) {
    return { cid, bytes, ms, announceMs: null, pendingAnnouncements: node.pendingAnnouncements ?? null }
  }
  const announceStarted = performance.now()
  let timer
  await Promise.race([
    node.awaitAnnouncements?.(),
    new Promise(resolve => { timer = setTimeout(resolve, ANNOUNCE_WAIT_MS) })
  ])
  clearTimeout(timer)
  return {
    cid,
    bytes,
    ms,
    announceMs: performance.now() - announceStarted,
    pendingAnnouncements: node.pendingAnnouncements ?? null
  }
}

async function connect ({ addrs }) {
  for (const addr of addrs) {
    await node.connect(addr)
  }
  await node.awaitAnnouncements?.()
  return {}
}

async function stats () {
  return node.stats()
}

serve({ publish, connect, stats }, {
  info: { peerId: node.peerId, multiaddrs: node.getMultiaddrs() },
  stop: async () => {
    await node.stop()
    await stores.close()
  }
})
