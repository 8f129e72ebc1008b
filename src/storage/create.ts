import { InvalidInputError } from '../errors.js'
import { MEMORY_SPEC } from './constants.js'
import { levelStorage } from './level/index.js'
import { memoryStorage } from './memory/index.js'
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
  throw new InvalidInputError('storage must be "memory", a directory path, or an object implementing StorageProvider')
}
