/**
 * The StorageProvider contract: one suite that every store must pass. Run it
 * with `storageContract(name, { setup, teardown })` from a `.test.ts` file.
 */

import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { whenAborted } from '../utils/wait.js'
import { equals } from 'multiformats/bytes'
import { cidForBlock } from '../../src/cid.js'
import type { CID } from '../../src/cid.js'
import type { Block, StorageProvider } from '../../src/storage/index.js'

/** How a contract run gets a fresh, open store and disposes of it. */
export interface ContractHooks {
  setup: () => Promise<StorageProvider>
  teardown: (store: StorageProvider) => Promise<void>
}

/** A block of `size` bytes whose content depends on `seed`. */
export function makeBlock (seed: number, size = 64): Block {
  const bytes = new Uint8Array(size)
  for (let i = 0; i < size; i++) {
    bytes[i] = (seed * 31 + i * 7 + (i >> 8)) & 0xff
  }
  if (size >= 4) {
    // Make the first bytes unique per seed.
    new DataView(bytes.buffer).setUint32(0, seed >>> 0)
  }
  return { cid: cidForBlock(bytes), bytes }
}

export async function collect<T> (source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const item of source) {
    out.push(item)
  }
  return out
}

function keysOf (cids: CID[]): string[] {
  return cids.map(cid => cid.toString()).sort()
}

async function rejectsWithName (promise: Promise<unknown>, name: string): Promise<Error> {
  const err = await promise.then(() => undefined, (err: Error) => err)
  expect(err, `expected a rejection with ${name}`).toBeInstanceOf(Error)
  expect(err?.name).toBe(name)
  return err as Error
}

export function storageContract (name: string, hooks: ContractHooks): void {
  describe(`StorageProvider contract: ${name}`, () => {
    let store: StorageProvider

    beforeEach(async () => {
      store = await hooks.setup()
    })

    afterEach(async () => {
      await hooks.teardown(store)
    })

    it('has a kind and idempotent open()', async () => {
      expect(typeof store.kind).toBe('string')
      expect(store.kind.length).toBeGreaterThan(0)
      await store.open()
      await store.open()
    })

    it('round-trips put, get, has and delete', async () => {
      const { cid, bytes } = makeBlock(1)
      expect(await store.has(cid)).toBe(false)
      await store.put(cid, bytes)
      expect(await store.has(cid)).toBe(true)
      const got = await store.get(cid)
      // A plain Uint8Array (not a Node.js Buffer, whose slice() does not copy).
      expect(Object.getPrototypeOf(got)).toBe(Uint8Array.prototype)
      expect(got).toEqual(bytes)
      await store.delete(cid)
      expect(await store.has(cid)).toBe(false)
      expect(await store.get(cid)).toBeUndefined()
    })

    it('returns undefined for a missing block and ignores deleting one', async () => {
      const { cid } = makeBlock(2)
      expect(await store.get(cid)).toBeUndefined()
      expect(await store.has(cid)).toBe(false)
      await store.delete(cid)
      expect(await store.stats()).toEqual({ blocks: 0, bytes: 0 })
    })

    it('keeps blocks apart', async () => {
      const a = makeBlock(3)
      const b = makeBlock(4, 100)
      await store.put(a.cid, a.bytes)
      await store.put(b.cid, b.bytes)
      expect(equals((await store.get(a.cid))!, a.bytes)).toBe(true)
      expect(equals((await store.get(b.cid))!, b.bytes)).toBe(true)
      await store.delete(a.cid)
      expect(await store.has(a.cid)).toBe(false)
      expect(await store.has(b.cid)).toBe(true)
    })

    it('treats a second put of the same block as a no-op', async () => {
      const { cid, bytes } = makeBlock(5, 1000)
      await store.put(cid, bytes)
      await store.put(cid, bytes)
      expect(await store.stats()).toEqual({ blocks: 1, bytes: 1000 })
      expect(keysOf(await collect(store.list()))).toEqual([cid.toString()])
    })

    it('stores every block of putMany, counting repeats and stored blocks once', async () => {
      const blocks = [makeBlock(10, 10), makeBlock(11, 20), makeBlock(12, 30)]
      const stored = blocks[0]!
      await store.put(stored.cid, stored.bytes)
      await store.putMany([...blocks, blocks[1]!])
      for (const { cid, bytes } of blocks) {
        expect(equals((await store.get(cid))!, bytes)).toBe(true)
      }
      expect(await store.stats()).toEqual({ blocks: 3, bytes: 60 })
    })

    it('accepts any iterable and an empty one in putMany', async () => {
      const blocks = [makeBlock(13), makeBlock(14)]
      function * gen (): Generator<Block> { yield * blocks }
      await store.putMany(gen())
      await store.putMany([])
      expect((await store.stats()).blocks).toBe(2)
    })

    it('writes nothing from a putMany that holds an invalid block', async () => {
      const good = makeBlock(15)
      const bad = { cid: 'not a cid', bytes: new Uint8Array(4) } as unknown as Block
      await rejectsWithName(store.putMany([good, bad]), 'InvalidInputError')
      expect(await store.has(good.cid)).toBe(false)
      expect(await store.stats()).toEqual({ blocks: 0, bytes: 0 })
    })

    it('rejects a put that is not given a CID and bytes', async () => {
      const { cid } = makeBlock(16)
      await rejectsWithName(store.put('zabc' as unknown as CID, new Uint8Array(4)), 'InvalidInputError')
      await rejectsWithName(store.put(cid, 'bytes' as unknown as Uint8Array), 'InvalidInputError')
      expect(await store.has(cid)).toBe(false)
    })

    it('lists exactly the stored CIDs', async () => {
      expect(await collect(store.list())).toEqual([])
      const blocks = Array.from({ length: 25 }, (_, i) => makeBlock(100 + i))
      await store.putMany(blocks)
      await store.delete(blocks[0]!.cid)
      const listed = await collect(store.list())
      expect(listed.every(cid => cid.bytes.byteLength === 36)).toBe(true)
      expect(keysOf(listed)).toEqual(keysOf(blocks.slice(1).map(b => b.cid)))
    })

    it('lets a consumer stop listing early', async () => {
      await store.putMany(Array.from({ length: 10 }, (_, i) => makeBlock(200 + i)))
      let seen = 0
      for await (const cid of store.list()) {
        expect(await store.has(cid)).toBe(true)
        if (++seen === 3) {
          break
        }
      }
      expect(seen).toBe(3)
      const extra = makeBlock(299)
      await store.put(extra.cid, extra.bytes)
      expect((await collect(store.list())).length).toBe(11)
    })

    it('keeps stats right through puts and deletes', async () => {
      expect(await store.stats()).toEqual({ blocks: 0, bytes: 0 })
      const a = makeBlock(20, 100)
      const b = makeBlock(21, 250)
      const c = makeBlock(22, 7)
      await store.put(a.cid, a.bytes)
      await store.putMany([b, c])
      expect(await store.stats()).toEqual({ blocks: 3, bytes: 357 })
      await store.delete(b.cid)
      await store.delete(b.cid)
      expect(await store.stats()).toEqual({ blocks: 2, bytes: 107 })
      await store.delete(a.cid)
      await store.delete(c.cid)
      expect(await store.stats()).toEqual({ blocks: 0, bytes: 0 })
    })

    it('stores the empty block', async () => {
      const bytes = new Uint8Array(0)
      const cid = cidForBlock(bytes)
      await store.put(cid, bytes)
      expect(await store.has(cid)).toBe(true)
      const got = await store.get(cid)
      expect(got).toBeInstanceOf(Uint8Array)
      expect(got?.byteLength).toBe(0)
      expect(await store.stats()).toEqual({ blocks: 1, bytes: 0 })
      expect(keysOf(await collect(store.list()))).toEqual([cid.toString()])
    })

    it('stores full 256 KiB chunks byte for byte', async () => {
      const blocks = [makeBlock(30, 262144), makeBlock(31, 262144), makeBlock(32, 262143)]
      await store.put(blocks[0]!.cid, blocks[0]!.bytes)
      await store.putMany(blocks.slice(1))
      for (const { cid, bytes } of blocks) {
        const got = await store.get(cid)
        expect(got?.byteLength).toBe(bytes.byteLength)
        expect(equals(got!, bytes)).toBe(true)
        expect(cidForBlock(got!).equals(cid)).toBe(true)
      }
      expect(await store.stats()).toEqual({ blocks: 3, bytes: 3 * 262144 - 1 })
    })

    it('handles concurrent puts, repeats included', async () => {
      const blocks = Array.from({ length: 40 }, (_, i) => makeBlock(300 + i, 1000 + i))
      const writes = [
        ...blocks.map(async ({ cid, bytes }) => { await store.put(cid, bytes) }),
        ...blocks.slice(0, 10).map(async ({ cid, bytes }) => { await store.put(cid, bytes) }),
        store.putMany(blocks.slice(5, 20))
      ]
      await Promise.all(writes)
      const expectedBytes = blocks.reduce((sum, b) => sum + b.bytes.byteLength, 0)
      expect(await store.stats()).toEqual({ blocks: 40, bytes: expectedBytes })
      const got = await Promise.all(blocks.map(async b => await store.get(b.cid)))
      got.forEach((bytes, i) => { expect(equals(bytes!, blocks[i]!.bytes)).toBe(true) })
      expect(keysOf(await collect(store.list()))).toEqual(keysOf(blocks.map(b => b.cid)))
    })

    it('handles concurrent puts and deletes of the same block', async () => {
      const { cid, bytes } = makeBlock(400, 50)
      await Promise.all([
        store.put(cid, bytes), store.put(cid, bytes), store.delete(cid), store.put(cid, bytes)
      ])
      const present = await store.has(cid)
      expect(await store.stats()).toEqual(present ? { blocks: 1, bytes: 50 } : { blocks: 0, bytes: 0 })
    })

    it('is not changed by later mutation of the arrays going in or out', async () => {
      const { cid, bytes } = makeBlock(500, 32)
      const original = bytes.slice()
      await store.put(cid, bytes)
      bytes.fill(0)
      const got = await store.get(cid)
      expect(equals(got!, original)).toBe(true)
      got!.fill(1)
      expect(equals((await store.get(cid))!, original)).toBe(true)
    })

    it('rejects a call whose signal has already aborted, and writes nothing', async () => {
      const { cid, bytes } = makeBlock(600)
      const controller = new AbortController()
      controller.abort()
      const options = { signal: controller.signal }
      await rejectsWithName(store.put(cid, bytes, options), 'AbortError')
      await rejectsWithName(store.putMany([{ cid, bytes }], options), 'AbortError')
      expect(await store.has(cid)).toBe(false)
      await store.put(cid, bytes)
      await rejectsWithName(store.get(cid, options), 'AbortError')
      await rejectsWithName(store.has(cid, options), 'AbortError')
      await rejectsWithName(store.delete(cid, options), 'AbortError')
      expect(await store.has(cid)).toBe(true)
      await rejectsWithName(store.stats(options), 'AbortError')
      await rejectsWithName(collect(store.list(options)), 'AbortError')
    })

    it('reports a timeout signal as TimeoutError', async () => {
      const signal = AbortSignal.timeout(1)
      await whenAborted(signal)
      expect(signal.aborted).toBe(true)
      await rejectsWithName(store.stats({ signal }), 'TimeoutError')
    })

    it('rejects every call with StorageError once closed', async () => {
      const { cid, bytes } = makeBlock(700)
      await store.put(cid, bytes)
      await store.close()
      await store.close()
      await rejectsWithName(store.put(cid, bytes), 'StorageError')
      await rejectsWithName(store.putMany([{ cid, bytes }]), 'StorageError')
      await rejectsWithName(store.get(cid), 'StorageError')
      await rejectsWithName(store.has(cid), 'StorageError')
      await rejectsWithName(store.delete(cid), 'StorageError')
      await rejectsWithName(store.stats(), 'StorageError')
      await rejectsWithName(collect(store.list()), 'StorageError')
      const err = await rejectsWithName(store.open(), 'StorageError')
      expect(err.message).toMatch(/closed/)
    })

    it('lets writes started before close() finish', async () => {
      const blocks = Array.from({ length: 5 }, (_, i) => makeBlock(800 + i))
      const writes = blocks.map(async ({ cid, bytes }) => { await store.put(cid, bytes) })
      const closing = store.close()
      const results = await Promise.allSettled(writes)
      await closing
      // Each write either completed or was refused with StorageError: none fails otherwise.
      for (const result of results) {
        if (result.status === 'rejected') {
          expect((result.reason as Error).name).toBe('StorageError')
        }
      }
    })
  })
}
