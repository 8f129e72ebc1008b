/**
 * The gc grace period: blocks a peer stored here (StoreChunk) are spared by
 * gc until their manifest pins them or the grace period ends. A real memory
 * store and pin index; only `Date` is faked, so the clock moves exactly as
 * far as each test says (the store and the lock keep their real timers).
 */
import { describe, it, expect, beforeEach, afterEach, vi } from 'vitest'
import { cidForBlock, cidToString, ManifestBuilder, memoryStorage, type StorageProvider } from '../../src/index.js'
import { recordStore } from '../../src/storage/index.js'
import { PINS_TABLE } from '../../src/replication/constants.js'
import { GarbageCollector } from '../../src/replication/gc.js'
import { GcLock } from '../../src/replication/lock.js'
import { PinIndex } from '../../src/replication/pins.js'
import { pseudoRandomBytes } from '../utils/content.js'

const GRACE_MS = 60_000
const T0 = Date.UTC(2026, 0, 1)

describe('gc grace period', () => {
  let storage: StorageProvider
  let pins: PinIndex
  let collector: GarbageCollector

  beforeEach(async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(T0)
    storage = memoryStorage()
    await storage.open()
    pins = new PinIndex(recordStore(storage, PINS_TABLE))
    collector = new GarbageCollector({ storage, pins, lock: new GcLock() }, { storedGraceMs: GRACE_MS })
  })
  afterEach(async () => {
    vi.useRealTimers()
    await storage.close()
  })

  /** Stores a block of `size` bytes and returns its CID. */
  async function block (seed: number, size = 1024): Promise<ReturnType<typeof cidForBlock>> {
    const bytes = pseudoRandomBytes(size, seed)
    const cid = cidForBlock(bytes)
    await storage.put(cid, bytes)
    return cid
  }

  it('spares a stored block for the grace period and removes it once the period has passed', async () => {
    const pushed = await block(1)
    collector.noteStored(pushed)
    vi.setSystemTime(T0 + GRACE_MS - 1)
    expect(await collector.gc()).toMatchObject({ blocksRemoved: 0, blocksKept: 1 })
    vi.setSystemTime(T0 + GRACE_MS)
    expect(await collector.gc()).toMatchObject({ blocksRemoved: 1, blocksKept: 0 })
    expect(await storage.has(pushed)).toBe(false)
  })

  it('removes an unpinned block nobody pushed at once, and keeps pinned content after the grace period', async () => {
    const stray = await block(2)
    const chunk = await block(3)
    const builder = new ManifestBuilder(8)
    builder.add(chunk)
    const { root } = builder.finish(new Uint8Array(32), 1024)
    await storage.put(root.cid, root.bytes)
    collector.noteStored(chunk)
    collector.noteStored(root.cid)
    await pins.put({ cid: cidToString(root.cid), kind: 'replica', state: 'complete', size: 1024, pinnedAt: Date.now() })
    expect(await collector.gc()).toMatchObject({ blocksRemoved: 1, blocksKept: 2 })
    expect(await storage.has(stray)).toBe(false)
    vi.setSystemTime(T0 + 10 * GRACE_MS)
    expect(await collector.gc()).toMatchObject({ blocksRemoved: 0, blocksKept: 2 })
  })

  it('restarts the period of a block stored again, and not of the blocks stored with it', async () => {
    const again = await block(4)
    const once = await block(5)
    collector.noteStored(again)
    collector.noteStored(once)
    vi.setSystemTime(T0 + GRACE_MS / 2)
    collector.noteStored(again)
    vi.setSystemTime(T0 + GRACE_MS)
    collector.noteStored(await block(6))
    expect(await collector.gc()).toMatchObject({ blocksRemoved: 1, blocksKept: 2 })
    expect(await storage.has(once)).toBe(false)
    vi.setSystemTime(T0 + GRACE_MS / 2 + GRACE_MS)
    expect(await collector.gc()).toMatchObject({ blocksRemoved: 1 })
    expect(await storage.has(again)).toBe(false)
  })
})
