import { mkdir } from 'node:fs/promises'
import { CID } from 'multiformats/cid'
import PQueue from 'p-queue'
import { InvalidInputError, StorageError, throwIfAborted } from '../../errors.js'
import { RESERVED_SUBLEVELS } from '../constants.js'
import { runInTurn } from '../../signals.js'
import { assertBytes, assertCid, collectBlocks } from '../validate.js'
import { binarySublevel, createDb } from './db.js'
import { closedError, toStorageError } from './errors.js'
import { STATS_KEY_BYTES, encodeStats, loadStats } from './stats.js'
import { levelRecords, type RecordStore } from '../records.js'
import type { AbortOptions } from '@libp2p/interface'
import type { Block, StorageStats } from '../index.js'
import type { LevelBatchOperation, LevelDb, LevelSublevel } from './db.js'
import type { LevelStorageProvider } from './index.js'

/** The LevelDB block store; see `levelStorage` for what it promises. */
export class LevelStorage implements LevelStorageProvider {
  readonly kind = 'level'
  readonly path: string
  readonly #sync: boolean
  /**
   * Writes run one at a time, in order, so a write's presence check, its
   * batch and its counter update never interleave with another write's.
   */
  readonly #writes = new PQueue({ concurrency: 1 })
  #db?: LevelDb
  #opening?: Promise<LevelDb>
  #closing?: Promise<void>
  #stats: StorageStats = { blocks: 0, bytes: 0 }

  constructor (path: string, sync: boolean) {
    this.path = path
    this.#sync = sync
  }

  async open (): Promise<void> {
    await this.#ready('open')
  }

  async close (): Promise<void> {
    this.#closing ??= this.#close()
    await this.#closing
  }

  async put (cid: CID, bytes: Uint8Array, options?: AbortOptions): Promise<void> {
    const block = { cid: assertCid(cid, 'put'), bytes: assertBytes(bytes, 'put') }
    await this.#write([block], 'put', options)
  }

  async putMany (blocks: Iterable<Block>, options?: AbortOptions): Promise<void> {
    await this.#write(collectBlocks(blocks, 'putMany'), 'putMany', options)
  }

  async get (cid: CID, options?: AbortOptions): Promise<Uint8Array | undefined> {
    const key = assertCid(cid, 'get').bytes
    const value = await this.#read('get', options, async db => await db.blocks.get(key))
    // classic-level hands out Buffers; give callers a plain Uint8Array view of
    // the same memory, so e.g. `.slice()` copies as it does on any Uint8Array.
    return value == null ? undefined : new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
  }

  async has (cid: CID, options?: AbortOptions): Promise<boolean> {
    const key = assertCid(cid, 'has').bytes
    return await this.#read('has', options, async db => await db.blocks.has(key))
  }

  async delete (cid: CID, options?: AbortOptions): Promise<void> {
    const key = assertCid(cid, 'delete').bytes
    const db = await this.#ready('delete', options)
    await runInTurn(this.#writes, async () => {
      try {
        // The value is read only for its length: deletes are rare (garbage
        // collection), so this is cheaper than keeping a size per block.
        const value = await db.blocks.get(key)
        if (value == null) {
          return
        }
        const next = { blocks: this.#stats.blocks - 1, bytes: this.#stats.bytes - value.byteLength }
        await db.root.batch([
          { type: 'del', sublevel: db.blocks, key },
          { type: 'put', sublevel: db.meta, key: STATS_KEY_BYTES, value: encodeStats(next) }
        ], { sync: this.#sync })
        this.#stats = next
      } catch (err) {
        throw toStorageError(err, this.path, 'delete')
      }
    }, options?.signal, 'storage delete')
  }

  async * list (options?: AbortOptions): AsyncGenerator<CID> {
    const db = await this.#ready('list', options)
    const keys = db.blocks.keys()
    try {
      for await (const key of keys) {
        throwIfAborted(options?.signal, 'storage list')
        yield decodeKey(key, this.path)
      }
    } catch (err) {
      throw toStorageError(err, this.path, 'list')
    } finally {
      await keys.close().catch(() => {})
    }
  }

  async stats (options?: AbortOptions): Promise<StorageStats> {
    await this.#ready('stats', options)
    return { ...this.#stats }
  }

  sublevel (name: string): LevelSublevel {
    if (this.#closing != null) {
      throw closedError(this.path, 'open a sublevel')
    }
    if (this.#db == null) {
      throw new StorageError(`cannot open sublevel "${name}": call open() on the LevelDB store at ${this.path} first`)
    }
    if (RESERVED_SUBLEVELS.includes(name)) {
      throw new InvalidInputError(`the sublevel name "${name}" is reserved by the storage module; choose another`)
    }
    try {
      return binarySublevel(this.#db.root, name)
    } catch (err) {
      throw new InvalidInputError(`"${name}" is not a valid sublevel name: ${(err as Error).message}`, { cause: err })
    }
  }

  /** The record table `name`: the sublevel of that name (so a 0.1.0 store's `pins` and `identity` are found where it wrote them). */
  records (name: string): RecordStore {
    return levelRecords(this.sublevel(name))
  }

  /** Opens the store if needed and returns the database; rejects once the store is closing. */
  async #ready (what: string, options?: AbortOptions): Promise<LevelDb> {
    throwIfAborted(options?.signal, `storage ${what}`)
    if (this.#closing != null) {
      throw closedError(this.path, what)
    }
    if (this.#opening == null) {
      const opening = this.#open()
      this.#opening = opening
      // A failed open may be retried (e.g. once the other process let go of the directory).
      opening.catch(() => {
        if (this.#opening === opening) {
          this.#opening = undefined
        }
      })
    }
    const db = await this.#opening
    if (this.#closing != null) {
      throw closedError(this.path, what)
    }
    return db
  }

  async #open (): Promise<LevelDb> {
    const db = createDb(this.path)
    try {
      await mkdir(this.path, { recursive: true })
      await db.root.open({ createIfMissing: true })
      this.#stats = await loadStats(db, this.#sync)
    } catch (err) {
      await db.root.close().catch(() => {})
      throw toStorageError(err, this.path, 'open')
    }
    this.#db = db
    return db
  }

  async #close (): Promise<void> {
    const opening = this.#opening
    if (opening == null) {
      return
    }
    const db = await opening.catch(() => undefined)
    // Writes queued before close() still complete; later calls were refused by #ready.
    await this.#writes.onIdle()
    if (db != null) {
      try {
        await db.root.close()
      } catch (err) {
        throw toStorageError(err, this.path, 'close')
      }
    }
  }

  async #read<T> (what: string, options: AbortOptions | undefined, read: (db: LevelDb) => Promise<T>): Promise<T> {
    const db = await this.#ready(what, options)
    try {
      return await read(db)
    } catch (err) {
      throw toStorageError(err, this.path, what)
    }
  }

  /**
   * Writes the blocks that are not stored yet, and the updated counters, in
   * one LevelDB batch. Runs in the write queue so the presence check and the
   * counter update see no other write in between; a write whose signal
   * aborts while it waits for its turn is dropped from the queue (with its
   * blocks) and rejects with `AbortError`/`TimeoutError`.
   */
  async #write (blocks: Block[], what: string, options?: AbortOptions): Promise<void> {
    const db = await this.#ready(what, options)
    await runInTurn(this.#writes, async () => {
      if (blocks.length === 0) {
        return
      }
      try {
        const present = await db.blocks.hasMany(blocks.map(block => block.cid.bytes))
        const fresh = blocks.filter((_, i) => present[i] !== true)
        if (fresh.length === 0) {
          return
        }
        const next = { ...this.#stats }
        const ops: LevelBatchOperation[] = []
        for (const { cid, bytes } of fresh) {
          ops.push({ type: 'put', sublevel: db.blocks, key: cid.bytes, value: bytes })
          next.blocks++
          next.bytes += bytes.byteLength
        }
        ops.push({ type: 'put', sublevel: db.meta, key: STATS_KEY_BYTES, value: encodeStats(next) })
        await db.root.batch(ops, { sync: this.#sync })
        this.#stats = next
      } catch (err) {
        throw toStorageError(err, this.path, what)
      }
    }, options?.signal, `storage ${what}`)
  }
}

function decodeKey (key: Uint8Array, path: string): CID {
  try {
    return CID.decode(key.slice())
  } catch (err) {
    throw new StorageError(`the LevelDB store at ${path} holds a block key that is not a binary CID; the store is damaged`, { cause: err })
  }
}
