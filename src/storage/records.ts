import type { StorageProvider } from './index.js'
import type { LevelStorageProvider } from './level/index.js'

/**
 * A small key-value table kept beside the blocks (pin records, replication
 * state). Values are a few hundred bytes; a table may hold thousands.
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
 * The record table `name` of a store: a sublevel of a LevelDB store (so it
 * survives restarts and each write is atomic), or a table in memory for any
 * other store (gone when the process ends).
 */
export function recordStore (storage: StorageProvider, name: string): RecordStore {
  const level = storage as Partial<LevelStorageProvider>
  if (typeof level.sublevel === 'function') {
    const sub = level.sublevel(name)
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
function compareUtf8 (a: string, b: string): number {
  return Buffer.compare(encoder.encode(a), encoder.encode(b))
}
