import { InvalidInputError, StorageError } from '../errors.js'
import type { StorageProvider } from './index.js'
import type { LevelSublevel } from './level/index.js'

/**
 * A small key-value table kept beside the blocks (pin records, the node's
 * identity, a store's counters). Values are a few hundred bytes; a table may
 * hold thousands. Each `put` and `delete` is atomic on its own: after a crash
 * a record holds its old or its new value, never a mix.
 */
export interface RecordStore {
  get(key: string): Promise<Uint8Array | undefined>
  put(key: string, value: Uint8Array): Promise<void>
  delete(key: string): Promise<void>
  /** Every record in key order (UTF-8 byte order), from the first key greater than `after` when given. */
  entries(options?: { after?: string }): AsyncIterable<[string, Uint8Array]>
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/**
 * The record table `name` of a store (`StorageProvider.records`). Every store
 * DDS builds has record tables; a store passed in without them gets them from
 * a datastore (see `withDatastoreRecords`), so this throws only for a store
 * that was never given one.
 *
 * @throws {StorageError} when the store keeps no records
 */
export function recordStore (storage: StorageProvider, name: string): RecordStore {
  if (typeof storage.records !== 'function') {
    throw new StorageError(`the ${storage.kind} store keeps no records (pins, identity); give Dds.create a datastore beside it`)
  }
  return storage.records(name)
}

/** A record table in a sublevel of a LevelDB store: it survives restarts, and each write is atomic. */
export function levelRecords (sub: LevelSublevel): RecordStore {
  return {
    get: async (key) => sub.get(encoder.encode(key)),
    put: async (key, value) => { await sub.put(encoder.encode(key), value) },
    delete: async (key) => { await sub.del(encoder.encode(key)) },
    entries: async function * (options = {}) {
      const range = options.after != null ? { gt: encoder.encode(options.after) } : {}
      for await (const [key, value] of sub.iterator(range)) {
        yield [decoder.decode(key), value]
      }
    }
  }
}

/** A record table in memory: gone when the process ends. */
export function memoryRecords (): RecordStore {
  const table = new Map<string, Uint8Array>()
  return {
    get: async (key) => table.get(key),
    put: async (key, value) => { table.set(key, new Uint8Array(value)) },
    delete: async (key) => { table.delete(key) },
    entries: async function * (options = {}) {
      const keys = [...table.keys()]
        .filter(key => options.after == null || compareUtf8(key, options.after) > 0)
        .sort(compareUtf8)
      for (const key of keys) {
        const value = table.get(key)
        if (value != null) {
          yield [key, value]
        }
      }
    }
  }
}

/** Orders strings as their UTF-8 bytes are ordered (as LevelDB orders keys). */
export function compareUtf8 (a: string, b: string): number {
  return Buffer.compare(encoder.encode(a), encoder.encode(b))
}

/**
 * Checks a record key: one path segment of a datastore key, so it may not be
 * empty nor hold `/` (every key DDS writes is a CID string or a fixed word).
 */
export function assertRecordKey (key: string, table: string): string {
  if (typeof key !== 'string' || key.length === 0 || key.includes('/')) {
    throw new InvalidInputError(`record key ${JSON.stringify(key)} of table "${table}" must be a non-empty string without "/"`)
  }
  return key
}
