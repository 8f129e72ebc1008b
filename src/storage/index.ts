/**
 * Block storage: the `StorageProvider` interface through which DDS uses every
 * store, the factories of the two built-in stores (LevelDB and memory), and
 * the adapter over the js-stores interfaces (`blockstoreStorage`, for
 * `Dds.create({ blockstore, datastore })`).
 *
 * A store maps a block's CID to its bytes, and keeps the node's records
 * (pins, identity) beside them. It does not verify bytes against CIDs: every
 * caller inside DDS verifies a block before it stores it, so the store never
 * pays for a second hash.
 *
 * @module
 */

import type { CID } from 'multiformats/cid'
import type { AbortOptions } from '@libp2p/interface'
import type { RecordStore } from './records.js'

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
   * Stores several blocks. DDS's LevelDB store writes them in one atomic
   * batch (after a crash all of them are present or none is); the adapter
   * over a blockstore writes them with its `putMany`, which need not be
   * atomic. DDS does not rely on atomicity: it writes a pin record only
   * after every block the pin names has been written (so a crash leaves at
   * worst unpinned blocks, for `gc()`), and it checks each local block
   * against its CID before it hands it out.
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

  /**
   * The record table `name` kept beside the blocks: the node's pins and its
   * identity live there, so they must be as durable as the blocks. Every
   * store DDS builds has them (a LevelDB sublevel, a datastore namespace, a
   * table in memory for the memory store). A provider of your own may leave
   * it out; `Dds.create` then needs a `datastore` beside it.
   *
   * Call it after `open()` has resolved.
   */
  records?(name: string): RecordStore
}

export { createStorage, isStorageProvider, nodeStorage, type StorageInit } from './create.js'
export { memoryStorage } from './memory/index.js'
export { levelStorage } from './level/index.js'
export type { LevelStorageInit, LevelStorageProvider, LevelSublevel } from './level/index.js'
export { blockstoreStorage, withDatastoreRecords, isBlockstore, isDatastore, type BlockstoreStorageInit, type Blockstore, type Datastore } from './adapter/index.js'
export { DEFAULT_LEVEL_SYNC, MEMORY_SPEC, DATASTORE_PREFIX } from './constants.js'
export { persistentPrivateKey } from './identity.js'
export { recordStore, type RecordStore } from './records.js'
export { BatchWriter } from './batch-writer.js'
export { WRITE_BATCH_BLOCKS } from './constants.js'
