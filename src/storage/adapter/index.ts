/**
 * The adapter between DDS and the js-stores interfaces: `Dds.create({
 * blockstore, datastore })` takes any interface-blockstore `Blockstore` and
 * interface-datastore `Datastore` (blockstore-level, blockstore-fs,
 * blockstore-s3, datastore-level, the memory stores of blockstore-core and
 * datastore-core, ...), and every use DDS makes of them goes through
 * `blockstoreStorage`.
 *
 * @module
 */

import { InvalidInputError } from '../../errors.js'
import { BlockstoreStorage } from './blockstore-storage.js'
import { RecordsBeside } from './records-beside.js'
import type { Blockstore } from 'interface-blockstore'
import type { Datastore } from 'interface-datastore'
import type { StorageProvider } from '../index.js'

export type { Blockstore } from 'interface-blockstore'
export type { Datastore } from 'interface-datastore'

/** The methods of a Blockstore DDS calls. */
export const BLOCKSTORE_METHODS = ['has', 'put', 'putMany', 'get', 'getAll', 'delete'] as const

/** The methods of a Datastore DDS calls. */
export const DATASTORE_METHODS = ['get', 'put', 'delete', 'query'] as const

/** Options of `blockstoreStorage`. */
export interface BlockstoreStorageInit {
  /** Where the blocks go. It must be DDS's alone: `gc()` removes every block no pin of the node references. */
  blockstore: Blockstore
  /** Where the pins, the node's identity and the blockstore's counters go, under `/dds/`. */
  datastore: Datastore
}

/**
 * A `StorageProvider` over a js-stores pair. It:
 *
 * - reads `get` (a generator of pieces, which throws `NotFoundError` for a
 *   missing block) into one `Uint8Array`, or `undefined`;
 * - copies bytes on the way in and out, so neither the caller's array nor
 *   the one it gets back can change a stored block;
 * - writes one call at a time, checking which blocks are already stored
 *   (`has`) and writing only the others with `putMany`;
 * - keeps the block and byte counters in the datastore (`/dds/storage/stats`)
 *   around every write, so they stay exact across crashes; it counts the
 *   blocks once (reading each) when the datastore has no counters yet;
 * - keeps record tables (`records(name)`) at `/dds/<name>/<key>` in the
 *   datastore;
 * - opens both stores (their `open()`, when they have one) on `open()`, and
 *   never closes them: `close()` only lets the writes in progress finish.
 *
 * What it needs from the stores: see "Using your own store" in the README.
 *
 * @throws {InvalidInputError} when either is not a store of its interface
 */
export function blockstoreStorage (init: BlockstoreStorageInit): StorageProvider {
  assertBlockstore(init?.blockstore, 'blockstore')
  assertDatastore(init.datastore, 'datastore')
  return new BlockstoreStorage(init.blockstore, init.datastore)
}

/**
 * A caller's own `StorageProvider` that keeps no records, with its record
 * tables in `datastore`.
 */
export function withDatastoreRecords (provider: StorageProvider, datastore: Datastore): StorageProvider {
  assertDatastore(datastore, 'datastore')
  return new RecordsBeside(provider, datastore)
}

/** True when `value` has every method of a Blockstore that DDS calls. */
export function isBlockstore (value: unknown): value is Blockstore {
  return missingMethods(value, BLOCKSTORE_METHODS).length === 0
}

/** True when `value` has every method of a Datastore that DDS calls. */
export function isDatastore (value: unknown): value is Datastore {
  return missingMethods(value, DATASTORE_METHODS).length === 0
}

function assertBlockstore (value: unknown, option: string): asserts value is Blockstore {
  assertMethods(value, BLOCKSTORE_METHODS, option, 'an interface-blockstore Blockstore (e.g. FsBlockstore from blockstore-fs)')
}

function assertDatastore (value: unknown, option: string): asserts value is Datastore {
  assertMethods(value, DATASTORE_METHODS, option, 'an interface-datastore Datastore (e.g. LevelDatastore from datastore-level)')
}

function assertMethods (value: unknown, methods: readonly string[], option: string, what: string): void {
  const missing = missingMethods(value, methods)
  if (missing.length > 0) {
    const has = value == null || typeof value !== 'object' ? `got ${value === null ? 'null' : typeof value}` : `it has no ${missing.join(', ')}`
    throw new InvalidInputError(`${option} must be ${what}: ${has}`)
  }
}

function missingMethods (value: unknown, methods: readonly string[]): string[] {
  if (value == null || typeof value !== 'object') {
    return [...methods]
  }
  const candidate = value as Record<string, unknown>
  return methods.filter(method => typeof candidate[method] !== 'function')
}
