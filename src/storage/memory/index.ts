/**
 * The in-memory block store: for tests and short-lived nodes. It exists for
 * speed, not to avoid the LevelDB store; the same contract tests run on both.
 *
 * @module
 */

import { MemoryStorage } from './memory-storage.js'
import type { StorageProvider } from '../index.js'

/**
 * Creates an empty in-memory store. Everything it holds is lost when the
 * process exits or `close()` is called.
 *
 * - It is usable at once; `open()` is a no-op (and rejects after `close()`).
 * - `put` stores a copy of the bytes and `get` returns a fresh copy, so
 *   mutating either array never changes what is stored.
 * - A closed store stays closed: every call rejects with `StorageError`.
 */
export function memoryStorage (): StorageProvider {
  return new MemoryStorage()
}
