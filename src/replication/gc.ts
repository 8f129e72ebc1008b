import type { AbortOptions } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import { cidToString } from '../cid.js'
import { throwIfAborted } from '../errors.js'
import { contentBlocks, decodeManifest } from '../manifest/index.js'
import type { StorageProvider } from '../storage/index.js'
import type { DdsLogger } from '../log/index.js'
import type { GcLock } from './lock.js'
import type { PinIndex } from './pins.js'

/** What one garbage collection removed. */
export interface GcResult {
  blocksRemoved: number
  bytesRemoved: number
  blocksKept: number
}

/**
 * Removes every stored block that no pin references: marks the manifest,
 * tree nodes and chunks of every pin (complete or still fetching), then
 * sweeps the store. `keep` names blocks to spare although unpinned (blocks
 * peers stored here moments ago, before the manifest that will pin them).
 *
 * Each delete is atomic, so a collection interrupted at any point leaves a
 * consistent store; running it again finishes the job.
 */
export async function collectGarbage (storage: StorageProvider, pins: PinIndex, keep: (key: string) => boolean, options: AbortOptions = {}): Promise<GcResult> {
  const referenced = new Set<string>()
  for await (const pin of pins.list()) {
    throwIfAborted(options.signal, 'gc')
    referenced.add(pin.cid)
    const bytes = await storage.get(pin.manifest, options)
    let manifest
    try {
      manifest = bytes != null ? decodeManifest(bytes) : undefined
    } catch {
      // not a manifest: nothing of it to keep beyond the block itself
    }
    if (manifest != null) {
      // a tree node already gone cannot list its chunks: they are swept
      for await (const block of contentBlocks(pin.manifest, manifest, async (cid) => storage.get(cid, options), { missing: 'skip', signal: options.signal })) {
        referenced.add(cidToString(block))
      }
    }
  }
  const result: GcResult = { blocksRemoved: 0, bytesRemoved: 0, blocksKept: 0 }
  for await (const cid of storage.list(options)) {
    const key = cidToString(cid)
    if (referenced.has(key) || keep(key)) {
      result.blocksKept++
      continue
    }
    throwIfAborted(options.signal, 'gc')
    const bytes = await storage.get(cid, options)
    await storage.delete(cid, options)
    result.blocksRemoved++
    result.bytesRemoved += bytes?.byteLength ?? 0
  }
  return result
}

/** What the garbage collector needs. */
export interface GarbageCollectorComponents {
  storage: StorageProvider
  pins: PinIndex
  lock: GcLock
  /** @default nothing is logged */
  log?: DdsLogger
}

/**
 * Garbage collection under the gc lock, with a grace period for blocks peers
 * stored here (StoreChunk): a seed peer receives a content's blocks before
 * the manifest that pins them, so a gc in between must spare them.
 */
export class GarbageCollector {
  private readonly components: GarbageCollectorComponents
  private readonly init: { storedGraceMs: number }
  /** When each block a peer stored here arrived (ms since the epoch), oldest first. */
  private readonly recentlyStored = new Map<string, number>()

  constructor (components: GarbageCollectorComponents, init: { storedGraceMs: number }) {
    this.components = components
    this.init = init
  }

  /** Remembers a block a peer stored here, so gc spares it until its manifest pins it (or the grace period ends). */
  noteStored (cid: CID): void {
    const now = Date.now()
    const key = cidToString(cid)
    // re-inserted at the end, so the map stays in arrival order
    this.recentlyStored.delete(key)
    this.recentlyStored.set(key, now)
    for (const [stored, at] of this.recentlyStored) {
      if (now - at < this.init.storedGraceMs) {
        break
      }
      this.recentlyStored.delete(stored)
    }
  }

  async gc (signal?: AbortSignal): Promise<GcResult> {
    const { storage, pins, lock } = this.components
    const result = await lock.withExclusive(async () => collectGarbage(storage, pins, (key) => this.isRecent(key), { signal }))
    this.components.log?.info('gc', { blocksRemoved: result.blocksRemoved, bytesRemoved: result.bytesRemoved, blocksKept: result.blocksKept })
    return result
  }

  private isRecent (key: string): boolean {
    const at = this.recentlyStored.get(key)
    return at != null && Date.now() - at < this.init.storedGraceMs
  }
}
