/**
 * The adapter over the js-stores interfaces (`blockstoreStorage`): the
 * StorageProvider contract on every blockstore the README documents, then
 * what it adds: counters kept in the datastore and exact after an
 * interrupted write, record tables under `/dds/`, stores left open.
 */
import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { equals } from 'multiformats/bytes'
import { MemoryBlockstore } from 'blockstore-core'
import { MemoryDatastore } from 'datastore-core'
import { LevelBlockstore } from 'blockstore-level'
import { FsBlockstore } from 'blockstore-fs'
import { LevelDatastore } from 'datastore-level'
import { Key } from 'interface-datastore'
import { cidToString } from '../../src/cid.js'
import { blockstoreStorage, recordStore } from '../../src/storage/index.js'
import { storageContract, makeBlock, collect } from './contract.js'
import type { Blockstore, Datastore, StorageProvider } from '../../src/storage/index.js'
import type { CID } from 'multiformats/cid'

interface Stores { blockstore: Blockstore & { close?: () => Promise<void> }, datastore: Datastore & { close?: () => Promise<void> }, dir?: string }

/** The pairs the README documents, each in a fresh directory. */
const PAIRS: Record<string, (dir: string) => Stores> = {
  'blockstore-core + datastore-core (memory)': () => ({ blockstore: new MemoryBlockstore(), datastore: new MemoryDatastore() }),
  'blockstore-level + datastore-level': (dir) => ({ blockstore: new LevelBlockstore(join(dir, 'blocks')), datastore: new LevelDatastore(join(dir, 'datastore')) }),
  'blockstore-fs + datastore-level': (dir) => ({ blockstore: new FsBlockstore(join(dir, 'blocks')), datastore: new LevelDatastore(join(dir, 'datastore')) })
}

async function tempDir (): Promise<string> {
  return await mkdtemp(join(tmpdir(), 'dds-blockstore-'))
}

async function closeStores (stores: Stores): Promise<void> {
  await stores.blockstore.close?.()
  await stores.datastore.close?.()
}

for (const [name, make] of Object.entries(PAIRS)) {
  const made = new WeakMap<StorageProvider, Stores>()
  storageContract(`blockstoreStorage over ${name}`, {
    setup: async () => {
      const dir = await tempDir()
      const stores = { ...make(dir), dir }
      const store = blockstoreStorage(stores)
      await store.open()
      made.set(store, stores)
      return store
    },
    teardown: async (store) => {
      await store.close()
      const stores = made.get(store)!
      await closeStores(stores)
      await rm(stores.dir!, { recursive: true, force: true })
    }
  })
}

describe('blockstoreStorage', () => {
  let dir: string
  const opened: Stores[] = []

  /** Fresh instances of blockstore-fs + datastore-level on the test's directories (the same ones on every call). */
  function fsStores (): Stores {
    const stores = PAIRS['blockstore-fs + datastore-level']!(dir)
    opened.push(stores)
    return stores
  }

  beforeEach(async () => {
    dir = await tempDir()
  })

  afterEach(async () => {
    await Promise.all(opened.splice(0).map(async s => { await closeStores(s).catch(() => {}) }))
    await rm(dir, { recursive: true, force: true })
  })

  it('keeps blocks and counters across a restart on the same directories', async () => {
    const blocks = [makeBlock(1, 262144), makeBlock(2, 10), makeBlock(3, 20)]
    const first = fsStores()
    const a = blockstoreStorage(first)
    await a.putMany(blocks)
    await a.delete(blocks[2]!.cid)
    await a.close()
    await closeStores(first)

    const b = blockstoreStorage(fsStores())
    await b.open()
    expect(await b.stats()).toEqual({ blocks: 2, bytes: 262154 })
    expect(equals((await b.get(blocks[0]!.cid))!, blocks[0]!.bytes)).toBe(true)
    expect(await b.get(blocks[2]!.cid)).toBeUndefined()
    expect((await collect(b.list())).map(String).sort()).toEqual([blocks[0]!.cid, blocks[1]!.cid].map(String).sort())
  })

  it('counts the blocks of a blockstore it meets for the first time', async () => {
    const stores = fsStores()
    const blocks = [makeBlock(10, 1000), makeBlock(11, 2000)]
    for (const { cid, bytes } of blocks) {
      await stores.blockstore.put(cid, bytes)
    }
    const store = blockstoreStorage(stores)
    expect(await store.stats()).toEqual({ blocks: 2, bytes: 3000 })
    // the count is saved: the next adapter reads it from the datastore
    expect(JSON.parse(new TextDecoder().decode(await stores.datastore.get(new Key('/dds/storage/stats'))))).toEqual({ blocks: 2, bytes: 3000 })
  })

  it('settles a write a crash interrupted from the record it left, without a scan', async () => {
    const stores = fsStores()
    const kept = [makeBlock(20, 100), makeBlock(21, 200)]
    const first = blockstoreStorage(stores)
    await first.putMany(kept)
    await first.close()
    // What a crash leaves in the middle of a putMany of c and d: the record
    // names both, only c reached the blockstore.
    const [c, d] = [makeBlock(22, 300), makeBlock(23, 400)]
    await stores.blockstore.put(c.cid, c.bytes)
    await stores.datastore.put(new Key('/dds/storage/stats'), new TextEncoder().encode(JSON.stringify({
      blocks: 2, bytes: 300, pending: { op: 'put', blocks: [[cidToString(c.cid), 300], [cidToString(d.cid), 400]] }
    })))
    const second = blockstoreStorage(stores)
    expect(await second.stats()).toEqual({ blocks: 3, bytes: 600 })
    await second.close()
    // ... and in the middle of deleting a block that did go
    await stores.blockstore.delete(kept[0]!.cid)
    await stores.datastore.put(new Key('/dds/storage/stats'), new TextEncoder().encode(JSON.stringify({
      blocks: 3, bytes: 600, pending: { op: 'delete', blocks: [[cidToString(kept[0]!.cid), 100]] }
    })))
    const third = blockstoreStorage(stores)
    expect(await third.stats()).toEqual({ blocks: 2, bytes: 500 })
  })

  it('accounts for a write that failed part-way before the next one', async () => {
    const blockstore = new FailingBlockstore()
    const store = blockstoreStorage({ blockstore, datastore: new MemoryDatastore() })
    const blocks = [makeBlock(30, 10), makeBlock(31, 20), makeBlock(32, 30)]
    blockstore.failAfter = 1
    await expect(store.putMany(blocks)).rejects.toMatchObject({ name: 'StorageError' })
    expect(await store.has(blocks[0]!.cid)).toBe(true)
    expect(await store.has(blocks[1]!.cid)).toBe(false)
    blockstore.failAfter = Infinity
    await store.put(blocks[2]!.cid, blocks[2]!.bytes)
    expect(await store.stats()).toEqual({ blocks: 2, bytes: 40 })
  })

  it('reads a block that arrives in pieces into one array, and a missing one as undefined', async () => {
    const blockstore = new MemoryBlockstore()
    const { cid, bytes } = makeBlock(40, 5000)
    await blockstore.put(cid, [bytes.subarray(0, 1000), bytes.subarray(1000, 4000), bytes.subarray(4000)])
    const store = blockstoreStorage({ blockstore, datastore: new MemoryDatastore() })
    const got = await store.get(cid)
    expect(Object.getPrototypeOf(got)).toBe(Uint8Array.prototype)
    expect(equals(got!, bytes)).toBe(true)
    expect(await store.get(makeBlock(41).cid)).toBeUndefined()
  })

  it('keeps record tables under /dds/<table>/ in the datastore, in key order', async () => {
    const datastore = new MemoryDatastore()
    await datastore.put(new Key('/other/app'), new Uint8Array([9]))
    const store = blockstoreStorage({ blockstore: new MemoryBlockstore(), datastore })
    await store.open()
    const pins = recordStore(store, 'pins')
    for (const key of ['zc', 'za', 'zb']) {
      await pins.put(key, new TextEncoder().encode(key))
    }
    await recordStore(store, 'pinsx').put('zz', new Uint8Array([1]))
    expect(equals((await datastore.get(new Key('/dds/pins/za')))!, new TextEncoder().encode('za'))).toBe(true)
    expect((await collect(pins.entries())).map(([key]) => key)).toEqual(['za', 'zb', 'zc'])
    expect((await collect(pins.entries({ after: 'za' }))).map(([key]) => key)).toEqual(['zb', 'zc'])
    expect(await pins.get('zq')).toBeUndefined()
    await pins.delete('zb')
    await pins.delete('zb')
    expect((await collect(pins.entries())).map(([key]) => key)).toEqual(['za', 'zc'])
    expect(() => recordStore(store, 'storage')).toThrow(expect.objectContaining({ name: 'InvalidInputError' }))
    await expect(pins.put('a/b', new Uint8Array(1))).rejects.toMatchObject({ name: 'InvalidInputError' })
  })

  it('opens the stores and leaves them open when it closes', async () => {
    const stores = fsStores()
    const store = blockstoreStorage(stores)
    const a = makeBlock(50)
    await store.put(a.cid, a.bytes)
    await store.close()
    await expect(store.get(a.cid)).rejects.toMatchObject({ name: 'StorageError' })
    expect(await stores.blockstore.has(a.cid)).toBe(true)
    expect(await stores.datastore.has(new Key('/dds/storage/stats'))).toBe(true)
  })

  it('says what failed when a store fails', async () => {
    const stores = { blockstore: new LevelBlockstore(join(dir, 'blocks')), datastore: new LevelDatastore(join(dir, 'datastore')) }
    await stores.blockstore.open()
    await stores.datastore.open()
    const store = blockstoreStorage(stores)
    await store.open()
    await stores.blockstore.close()
    const err = await store.get(makeBlock(60).cid).then(() => undefined, (err: Error) => err)
    expect(err?.name).toBe('StorageError')
    expect(err?.message).toMatch(/get failed on the blockstore/)
    await stores.datastore.close()
  })

  it('refuses what is not a blockstore or a datastore', () => {
    expect(() => blockstoreStorage({ blockstore: {} as Blockstore, datastore: new MemoryDatastore() }))
      .toThrow(expect.objectContaining({ name: 'InvalidInputError', message: expect.stringMatching(/blockstore must be .*it has no has, put, putMany, get, getAll, delete/) }))
    expect(() => blockstoreStorage({ blockstore: new MemoryBlockstore(), datastore: undefined as unknown as Datastore }))
      .toThrow(expect.objectContaining({ name: 'InvalidInputError', message: expect.stringMatching(/datastore must be/) }))
  })
})

/** A memory blockstore whose putMany fails after `failAfter` blocks: a write that breaks part-way. */
class FailingBlockstore extends MemoryBlockstore {
  failAfter = Infinity

  override async * putMany (source: Iterable<{ cid: CID, bytes: Uint8Array }> | AsyncIterable<{ cid: CID, bytes: Uint8Array }>): AsyncGenerator<CID> {
    let written = 0
    for await (const { cid, bytes } of source) {
      if (written >= this.failAfter) {
        throw new Error('disk full')
      }
      await this.put(cid, bytes)
      written++
      yield cid
    }
  }
}
