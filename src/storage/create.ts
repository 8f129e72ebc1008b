import { InvalidInputError } from '../errors.js'
import { MEMORY_SPEC } from './constants.js'
import { levelStorage } from './level/index.js'
import { memoryStorage } from './memory/index.js'
import { blockstoreStorage, isBlockstore, withDatastoreRecords, type Blockstore, type Datastore } from './adapter/index.js'
import type { StorageProvider } from './index.js'

const PROVIDER_METHODS = ['open', 'close', 'put', 'putMany', 'get', 'has', 'delete', 'list', 'stats'] as const

/** True when `value` has every method of a `StorageProvider`. */
export function isStorageProvider (value: unknown): value is StorageProvider {
  if (value == null || typeof value !== 'object') {
    return false
  }
  const candidate = value as Record<string, unknown>
  return PROVIDER_METHODS.every(method => typeof candidate[method] === 'function')
}

/**
 * Turns a storage spec into a store:
 *
 * - `'memory'`: a new in-memory store (`memoryStorage()`);
 * - any other string: a LevelDB store in that directory (`levelStorage({ path })`,
 *   with the default options); write `./memory` for a directory named `memory`;
 * - an object with the `StorageProvider` methods: returned as is.
 *
 * The store is not opened here.
 *
 * @throws {InvalidInputError} for an empty string or anything else
 */
export function createStorage (spec: 'memory' | string | StorageProvider): StorageProvider {
  if (spec === MEMORY_SPEC) {
    return memoryStorage()
  }
  if (typeof spec === 'string') {
    if (spec.trim().length === 0) {
      throw new InvalidInputError('storage path is empty: pass "memory" or a directory path such as "./dds-data"')
    }
    return levelStorage({ path: spec })
  }
  if (isStorageProvider(spec)) {
    return spec
  }
  if (isBlockstore(spec)) {
    throw new InvalidInputError('storage got a Blockstore: pass it as Dds.create({ blockstore, datastore }), with a datastore for the pins and the identity')
  }
  throw new InvalidInputError('storage must be "memory", a directory path, or an object implementing StorageProvider')
}

/** Where a node keeps its blocks and records: the store options of `Dds.create`. */
export interface StorageInit {
  storage?: 'memory' | string | StorageProvider
  blockstore?: Blockstore
  datastore?: Datastore
}

/**
 * What a blockstore (or a provider of one's own) without a datastore would
 * lose, and what to do instead.
 */
function missingDatastore (what: string): string {
  return `${what} needs a datastore beside it: DDS keeps the node's pins and its identity (private key) there. ` +
    'Without one they would live in memory, so after a restart the node would have a new peer id and no pins, ' +
    'and gc() would delete everything it published. Pass a persistent datastore, e.g. ' +
    "{ blockstore, datastore: new LevelDatastore('./dds/datastore') } (datastore-level), " +
    'or datastore: new MemoryDatastore() (datastore-core) for a node that may forget all of it when it stops'
}

/**
 * The store of a node, from its `Dds.create` options (not opened here):
 *
 * - `blockstore` + `datastore`: `blockstoreStorage({ blockstore, datastore })`;
 * - `storage`: as `createStorage` makes it; a provider of one's own that
 *   keeps no records (`records()`) needs a `datastore` beside it, which then
 *   holds them;
 * - neither: a memory store.
 *
 * @throws {InvalidInputError} for a blockstore (or a recordless provider)
 * without a datastore, a datastore with no blocks of the caller's beside it,
 * both `storage` and `blockstore`, or anything `createStorage` refuses
 */
export function nodeStorage (init: StorageInit): StorageProvider {
  const { storage, blockstore, datastore } = init
  if (blockstore != null) {
    if (storage != null) {
      throw new InvalidInputError('pass either storage or blockstore (with a datastore), not both')
    }
    if (datastore == null) {
      throw new InvalidInputError(missingDatastore('a blockstore'))
    }
    return blockstoreStorage({ blockstore, datastore })
  }
  const provider = createStorage(storage ?? MEMORY_SPEC)
  if (datastore != null) {
    if (typeof storage === 'string' || storage == null) {
      throw new InvalidInputError('a datastore goes with a blockstore (or a StorageProvider of your own that keeps no records): ' +
        `pass blockstore beside it; storage: ${storage == null ? "'memory'" : JSON.stringify(storage)} keeps its own records`)
    }
    if (typeof provider.records === 'function') {
      throw new InvalidInputError(`the ${provider.kind} store keeps its own records (pins, identity): leave out the datastore`)
    }
    return withDatastoreRecords(provider, datastore)
  }
  if (typeof provider.records !== 'function') {
    throw new InvalidInputError(missingDatastore(`a StorageProvider of your own ("${provider.kind}") that keeps no records`))
  }
  return provider
}
