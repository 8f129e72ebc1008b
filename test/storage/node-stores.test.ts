/**
 * A node on each store the README documents: `storage: <dir>` (DDS's
 * LevelDB), blockstore-level + datastore-level and blockstore-fs +
 * datastore-level through `Dds.create({ blockstore, datastore })`. Each one
 * publishes, stops, starts again on the same directories and must come back
 * with the same peer id and its pins, and `gc()` must keep what it published
 * (and remove what it no longer pins). Then what `Dds.create` refuses.
 */
import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MemoryBlockstore } from 'blockstore-core'
import { MemoryDatastore } from 'datastore-core'
import { LevelBlockstore } from 'blockstore-level'
import { FsBlockstore } from 'blockstore-fs'
import { LevelDatastore } from 'datastore-level'
import { Key } from 'interface-datastore'
import { Dds, memoryStorage, type DdsInit, type StorageProvider } from '../../src/index.js'
import { pseudoRandomBytes, sha256Hex } from '../utils/content.js'

/** No DHT traffic and no replicas: this is about the node's own store. */
const QUIET: DdsInit = { announce: 'none', replication: { factor: 1 } }

interface Opened {
  init: DdsInit
  /** Closes what the test opened (a node leaves a blockstore and datastore open). */
  close: () => Promise<void>
}

/** Each documented store, opened on `dir` (the same directories on every call). */
const STORES: Record<string, (dir: string) => Opened> = {
  'storage: <dir> (LevelDB)': (dir) => ({ init: { storage: join(dir, 'store') }, close: async () => {} }),
  'blockstore-level + datastore-level': (dir) => {
    const blockstore = new LevelBlockstore(join(dir, 'blocks'))
    const datastore = new LevelDatastore(join(dir, 'datastore'))
    return { init: { blockstore, datastore }, close: async () => { await blockstore.close(); await datastore.close() } }
  },
  'blockstore-fs + datastore-level': (dir) => {
    const blockstore = new FsBlockstore(join(dir, 'blocks'))
    const datastore = new LevelDatastore(join(dir, 'datastore'))
    return { init: { blockstore, datastore }, close: async () => { await datastore.close() } }
  }
}

describe('a node restarted on the same stores', () => {
  let dir: string
  const nodes: Dds[] = []
  const opened: Opened[] = []

  async function start (kind: string): Promise<Dds> {
    const stores = STORES[kind]!(dir)
    opened.push(stores)
    const node = await Dds.create({ ...QUIET, ...stores.init })
    nodes.push(node)
    return node
  }

  async function stopAll (): Promise<void> {
    await Promise.all(nodes.splice(0).map(async node => { await node.stop() }))
    for (const stores of opened.splice(0)) {
      await stores.close()
    }
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dds-node-stores-'))
  })

  afterEach(async () => {
    await stopAll()
    await rm(dir, { recursive: true, force: true })
  })

  for (const kind of Object.keys(STORES)) {
    it(`keeps its peer id, its pins and its content through gc: ${kind}`, async () => {
      const kept = pseudoRandomBytes(2 * 262144 + 500, 1)
      const dropped = pseudoRandomBytes(262144 + 10, 2)
      const first = await start(kind)
      const keptCid = await first.publish(kept, { name: 'kept.bin' })
      const droppedCid = await first.publish(dropped, { name: 'dropped.bin' })
      expect(await first.unpin(droppedCid)).toBe(true)
      const peerId = first.peerId
      const pins = await first.pins()
      const stored = (await first.repoStat()).store
      await stopAll()

      const second = await start(kind)
      expect(second.peerId).toBe(peerId)
      expect(await second.pins()).toEqual(pins)
      expect((await second.repoStat()).store).toEqual(stored)
      // kept: 3 chunks + manifest, which gc keeps; dropped: 2 chunks + manifest, which it removes
      const result = await second.gc()
      const after = (await second.repoStat()).store
      expect(result).toEqual({ blocksRemoved: 3, bytesRemoved: stored.bytes - after.bytes, blocksKept: 4 })
      expect(result.bytesRemoved).toBeGreaterThan(dropped.byteLength)
      expect(after.blocks).toBe(4)
      expect(sha256Hex(await second.retrieveBytes(keptCid))).toBe(sha256Hex(kept))
      expect(await second.has(droppedCid)).toBe(false)
      await stopAll()

      // and once more, after the gc
      const third = await start(kind)
      expect(third.peerId).toBe(peerId)
      expect((await third.pins()).map(pin => pin.cid)).toEqual([keptCid])
      expect((await third.repoStat()).store.blocks).toBe(4)
      expect(sha256Hex(await third.retrieveBytes(keptCid))).toBe(sha256Hex(kept))
    })
  }

  it('keeps its identity and pins under /dds/ in the datastore', async () => {
    const blockstore = new MemoryBlockstore()
    const datastore = new MemoryDatastore()
    const node = await Dds.create({ ...QUIET, blockstore, datastore })
    nodes.push(node)
    const cid = await node.publish(new TextEncoder().encode('hello'))
    expect(await datastore.has(new Key('/dds/identity/private-key'))).toBe(true)
    expect(await datastore.has(new Key(`/dds/pins/${cid}`))).toBe(true)
    expect(await datastore.has(new Key('/dds/storage/stats'))).toBe(true)
    await node.stop()
    // the stores stay open and usable; a new node on them is the same node
    const again = await Dds.create({ ...QUIET, blockstore, datastore })
    nodes.push(again)
    expect(again.peerId).toBe(node.peerId)
    expect(new TextDecoder().decode(await again.retrieveBytes(cid))).toBe('hello')
  })
})

describe('Dds.create store options', () => {
  async function refusal (init: DdsInit): Promise<Error> {
    const err = await Dds.create({ ...QUIET, ...init }).then(async (node) => { await node.stop(); return undefined }, (err: Error) => err)
    expect(err, 'Dds.create should have refused').toBeInstanceOf(Error)
    expect(err?.name).toBe('InvalidInputError')
    return err!
  }

  it('refuses a blockstore without a datastore, saying what would be lost', async () => {
    const err = await refusal({ blockstore: new MemoryBlockstore() })
    expect(err.message).toMatch(/needs a datastore/)
    expect(err.message).toMatch(/new peer id and no pins/)
    expect(err.message).toMatch(/gc\(\) would delete everything it published/)
    expect(err.message).toMatch(/MemoryDatastore/)
  })

  it('refuses a blockstore passed as storage, and mixed or lone options', async () => {
    expect((await refusal({ storage: new MemoryBlockstore() as unknown as StorageProvider })).message).toMatch(/pass it as Dds.create\(\{ blockstore, datastore \}\)/)
    expect((await refusal({ storage: 'memory', blockstore: new MemoryBlockstore(), datastore: new MemoryDatastore() })).message).toMatch(/not both/)
    expect((await refusal({ datastore: new MemoryDatastore() })).message).toMatch(/goes with a blockstore/)
    expect((await refusal({ storage: memoryStorage(), datastore: new MemoryDatastore() })).message).toMatch(/keeps its own records/)
    expect((await refusal({ blockstore: {} as MemoryBlockstore, datastore: new MemoryDatastore() })).message).toMatch(/blockstore must be an interface-blockstore Blockstore/)
  })

  it('refuses a StorageProvider of its own that keeps no records, unless a datastore comes with it', async () => {
    const inner = memoryStorage()
    const recordless = (): StorageProvider => ({
      kind: 'mine',
      open: async () => { await inner.open() },
      close: async () => {},
      put: async (cid, bytes, options) => { await inner.put(cid, bytes, options) },
      putMany: async (blocks, options) => { await inner.putMany(blocks, options) },
      get: async (cid, options) => inner.get(cid, options),
      has: async (cid, options) => inner.has(cid, options),
      delete: async (cid, options) => { await inner.delete(cid, options) },
      list: (options) => inner.list(options),
      stats: async (options) => inner.stats(options)
    })
    expect((await refusal({ storage: recordless() })).message).toMatch(/StorageProvider of your own \("mine"\) that keeps no records needs a datastore/)
    const datastore = new MemoryDatastore()
    const node = await Dds.create({ ...QUIET, storage: recordless(), datastore })
    try {
      const cid = await node.publish(new Uint8Array([1, 2, 3]))
      expect(await datastore.has(new Key(`/dds/pins/${cid}`))).toBe(true)
    } finally {
      await node.stop()
    }
  })
})
