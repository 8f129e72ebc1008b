/**
 * Block storage: the `StorageProvider` interface every store implements, and
 * the factories of the two built-in stores.
 *
 * A store maps a block's CID to its bytes. It does not verify bytes against
 * CIDs: every caller inside DDS verifies a block before it stores it, so the
 * store never pays for a second hash. A caller that passes its own provider
 * to `Dds.create({ storage })` gets the same guarantee.
 *
 * @module
 */

import type { CID } from 'multiformats/cid'
import type { AbortOptions } from '@libp2p/interface'

/** One block to write. */
export interface Block {
  cid: CID
  bytes: Uint8Array
}

/** Totals of what a store holds. */
export interface StorageStats {
  /** Number of blocks stored. */
  blocks: number
  /** Sum of the byte lengths of the stored blocks. */
  bytes: number
}

/**
 * What every block store provides. Implementations must be safe to call
 * concurrently; `open()` and `close()` are idempotent.
 */
export interface StorageProvider {
  /** A short name for logs and errors, e.g. `level` or `memory`. */
  readonly kind: string

  /** Opens the store (creating it if needed). Called by `Dds.create`. */
  open(): Promise<void>

  /** Flushes and closes the store. Any call after this rejects with `StorageError`. */
  close(): Promise<void>

  /** Stores one block. Storing a block that is already present is a no-op. */
  put(cid: CID, bytes: Uint8Array, options?: AbortOptions): Promise<void>

  /**
   * Stores several blocks in one atomic batch: after a crash either all of
   * them are present or none is.
   */
  putMany(blocks: Iterable<Block>, options?: AbortOptions): Promise<void>

  /** Returns the bytes of a block, or `undefined` when it is not stored. */
  get(cid: CID, options?: AbortOptions): Promise<Uint8Array | undefined>

  /** True when the block is stored. */
  has(cid: CID, options?: AbortOptions): Promise<boolean>

  /** Removes a block. Removing a block that is not stored is a no-op. */
  delete(cid: CID, options?: AbortOptions): Promise<void>

  /** Lists the CIDs of all stored blocks, in no particular order. */
  list(options?: AbortOptions): AsyncIterable<CID>

  /** Counts the stored blocks and their bytes. */
  stats(options?: AbortOptions): Promise<StorageStats>
}

export { createStorage, isStorageProvider } from './create.js'
export { memoryStorage } from './memory/index.js'
export { levelStorage } from './level/index.js'
export type { LevelStorageInit, LevelStorageProvider, LevelSublevel } from './level/index.js'
export { DEFAULT_LEVEL_SYNC, MEMORY_SPEC } from './constants.js'
export { persistentPrivateKey } from './identity.js'
export { recordStore, type RecordStore } from './records.js'
export { BatchWriter } from './batch-writer.js'
export { WRITE_BATCH_BLOCKS } from './constants.js'
