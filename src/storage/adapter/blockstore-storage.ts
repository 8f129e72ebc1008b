import PQueue from 'p-queue'
import { CID } from 'multiformats/cid'
import { InvalidInputError, StorageError, throwIfAborted } from '../../errors.js'
import { RAW_CODE, cidToString } from '../../cid.js'
import { runInTurn } from '../../signals.js'
import { PRESENCE_CHECKS, STORAGE_TABLE } from '../constants.js'
import { assertBytes, assertCid, collectBlocks } from '../validate.js'
import { Counters, settle, type PendingWrite } from './counters.js'
import { datastoreRecords } from './datastore-records.js'
import { drain, readBlock, storeError } from './semantics.js'
import type { AbortOptions } from '@libp2p/interface'
import type { Blockstore } from 'interface-blockstore'
import type { Datastore } from 'interface-datastore'
import type { Block, StorageProvider, StorageStats } from '../index.js'
import type { RecordStore } from '../records.js'

const STORE = 'blockstore'

/** A store that may need opening: every js-stores store has an idempotent `open()`, the interfaces do not name it. */
interface Openable {
  open?: () => unknown
}

/**
 * The adapter between DDS and a js-stores pair: a `StorageProvider` over an
 * interface-blockstore `Blockstore`, with its record tables (pins, identity)
 * and its counters in an interface-datastore `Datastore`. Every call DDS
 * makes on the blocks goes through it; see `blockstoreStorage` for what it
 * promises and what it needs from the stores.
 */
export class BlockstoreStorage implements StorageProvider {
  readonly kind = 'blockstore'
  readonly #blockstore: Blockstore
  readonly #datastore: Datastore
  readonly #counters: Counters
  readonly #tables = new Map<string, RecordStore>()
  /**
   * Writes run one at a time, in order, so a write's presence check, its
   * counters and its blocks never interleave with another write's.
   */
  readonly #writes = new PQueue({ concurrency: 1 })
  #opening?: Promise<void>
  #closing?: Promise<void>
  #stats: StorageStats = { blocks: 0, bytes: 0 }
  /** A write that failed part-way: which of its blocks made it is found out before the next write. */
  #pending?: PendingWrite

  constructor (blockstore: Blockstore, datastore: Datastore) {
    this.#blockstore = blockstore
    this.#datastore = datastore
    this.#counters = new Counters(datastoreRecords(datastore, STORAGE_TABLE))
  }

  async open (): Promise<void> {
    await this.#ready('open')
  }

  async close (): Promise<void> {
    this.#closing ??= this.#close()
    await this.#closing
  }

  async put (cid: CID, bytes: Uint8Array, options?: AbortOptions): Promise<void> {
    await this.#write([{ cid: assertCid(cid, 'put'), bytes: assertBytes(bytes, 'put') }], 'put', options)
  }

  async putMany (blocks: Iterable<Block>, options?: AbortOptions): Promise<void> {
    await this.#write(collectBlocks(blocks, 'putMany'), 'putMany', options)
  }

  async get (cid: CID, options?: AbortOptions): Promise<Uint8Array | undefined> {
    const key = assertCid(cid, 'get')
    await this.#ready('get', options)
    try {
      return await readBlock(this.#blockstore, key, options)
    } catch (err) {
      throw storeError(err, STORE, 'get', options)
    }
  }

  async has (cid: CID, options?: AbortOptions): Promise<boolean> {
    const key = assertCid(cid, 'has')
    await this.#ready('has', options)
    try {
      return await this.#blockstore.has(key, options)
    } catch (err) {
      throw storeError(err, STORE, 'has', options)
    }
  }

  async delete (cid: CID, options?: AbortOptions): Promise<void> {
    const key = assertCid(cid, 'delete')
    await this.#ready('delete', options)
    await runInTurn(this.#writes, async () => {
      try {
        await this.#settlePending()
        // read only for its length: deletes are rare (garbage collection)
        const bytes = await readBlock(this.#blockstore, key)
        if (bytes == null) {
          return
        }
        await this.#apply({ op: 'delete', blocks: [[cidToString(key), bytes.byteLength]] }, async () => {
          await this.#blockstore.delete(key)
        })
      } catch (err) {
        throw storeError(err, STORE, 'delete')
      }
    }, options?.signal, 'storage delete')
  }

  async * list (options?: AbortOptions): AsyncGenerator<CID> {
    await this.#ready('list', options)
    try {
      for await (const pair of this.#blockstore.getAll(options)) {
        throwIfAborted(options?.signal, 'storage list')
        yield asDdsCid(pair.cid)
      }
    } catch (err) {
      throw storeError(err, STORE, 'list', options)
    }
  }

  async stats (options?: AbortOptions): Promise<StorageStats> {
    await this.#ready('stats', options)
    return { ...this.#stats }
  }

  /**
   * The record table `name` in the datastore (`/dds/<name>/...`). The
   * `storage` table holds the counters and is not handed out.
   */
  records (name: string): RecordStore {
    if (name === STORAGE_TABLE) {
      throw new InvalidInputError(`the record table "${name}" is reserved by the storage module; choose another`)
    }
    let table = this.#tables.get(name)
    if (table == null) {
      table = datastoreRecords(this.#datastore, name)
      this.#tables.set(name, table)
    }
    return table
  }

  /** Opens the stores and loads the counters if needed; rejects once the adapter is closing. */
  async #ready (what: string, options?: AbortOptions): Promise<void> {
    throwIfAborted(options?.signal, `storage ${what}`)
    if (this.#closing != null) {
      throw closedError(what)
    }
    if (this.#opening == null) {
      const opening = this.#open()
      this.#opening = opening
      // a failed open may be retried
      opening.catch(() => {
        if (this.#opening === opening) {
          this.#opening = undefined
        }
      })
    }
    await this.#opening
    if (this.#closing != null) {
      throw closedError(what)
    }
  }

  async #open (): Promise<void> {
    try {
      await (this.#blockstore as Openable).open?.call(this.#blockstore)
      await (this.#datastore as Openable).open?.call(this.#datastore)
      const saved = await this.#counters.load()
      if (saved != null && saved.pending == null) {
        this.#stats = { blocks: saved.blocks, bytes: saved.bytes }
        return
      }
      const stats = saved?.pending != null
        ? await settle(saved, saved.pending, async (cids) => this.#present(cids.map(cid => CID.parse(cid))))
        : await this.#count()
      await this.#counters.save(stats)
      this.#stats = stats
    } catch (err) {
      throw storeError(err, STORE, 'open')
    }
  }

  /** Writes queued before close() still complete; the stores themselves stay open (they are the caller's). */
  async #close (): Promise<void> {
    const opening = this.#opening
    if (opening == null) {
      return
    }
    await opening.catch(() => {})
    await this.#writes.onIdle()
  }

  /**
   * Writes the blocks that are not stored yet between the two counter
   * records (see `Counters`). A write whose signal aborts while it waits for
   * its turn is dropped; once started it runs to its end.
   */
  async #write (blocks: Block[], what: string, options?: AbortOptions): Promise<void> {
    await this.#ready(what, options)
    await runInTurn(this.#writes, async () => {
      if (blocks.length === 0) {
        return
      }
      try {
        await this.#settlePending()
        const present = await this.#present(blocks.map(block => block.cid))
        const fresh = blocks.filter((_, i) => !present[i])
        if (fresh.length === 0) {
          return
        }
        const pending: PendingWrite = { op: 'put', blocks: fresh.map(({ cid, bytes }) => [cidToString(cid), bytes.byteLength]) }
        await this.#apply(pending, async () => {
          // copies: a store may keep the array it is given (MemoryBlockstore does)
          const pairs = fresh.map(({ cid, bytes }) => ({ cid, bytes: bytes.slice() }))
          await drain(this.#blockstore.putMany(pairs))
        })
      } catch (err) {
        throw storeError(err, STORE, what)
      }
    }, options?.signal, `storage ${what}`)
  }

  /** Records `pending`, runs the blockstore write, records the new totals. */
  async #apply (pending: PendingWrite, write: () => Promise<void>): Promise<void> {
    await this.#counters.save({ ...this.#stats, pending })
    this.#pending = pending
    await write()
    const sign = pending.op === 'put' ? 1 : -1
    const next = {
      blocks: this.#stats.blocks + sign * pending.blocks.length,
      bytes: this.#stats.bytes + sign * pending.blocks.reduce((sum, [, size]) => sum + size, 0)
    }
    await this.#counters.save(next)
    this.#stats = next
    this.#pending = undefined
  }

  /** Accounts for a write that failed part-way, before any other write. */
  async #settlePending (): Promise<void> {
    const pending = this.#pending
    if (pending == null) {
      return
    }
    const next = await settle(this.#stats, pending, async (cids) => this.#present(cids.map(cid => CID.parse(cid))))
    await this.#counters.save(next)
    this.#stats = next
    this.#pending = undefined
  }

  /** Whether each block is stored, `PRESENCE_CHECKS` checks at a time. */
  async #present (cids: CID[]): Promise<boolean[]> {
    const found: boolean[] = []
    for (let i = 0; i < cids.length; i += PRESENCE_CHECKS) {
      const part = cids.slice(i, i + PRESENCE_CHECKS)
      found.push(...await Promise.all(part.map(async cid => this.#blockstore.has(cid))))
    }
    return found
  }

  /** Counts the stored blocks and their bytes, reading each block once (only when the datastore holds no counters). */
  async #count (): Promise<StorageStats> {
    const stats = { blocks: 0, bytes: 0 }
    for await (const pair of this.#blockstore.getAll()) {
      stats.blocks++
      for await (const piece of pair.bytes) {
        stats.bytes += piece.byteLength
      }
    }
    return stats
  }
}

/**
 * The CID DDS names a listed block by. Blockstores key blocks by multihash
 * and do not keep the CID they were given: blockstore-level and the memory
 * store list CIDv1 `raw`, blockstore-fs lists a sha2-256 block as a CIDv0
 * (dag-pb). Every DDS block is CIDv1 `raw`, so that is what is listed; a gc
 * comparing listed CIDs with its pins' would otherwise sweep everything.
 */
function asDdsCid (cid: CID): CID {
  return cid.version === 1 && cid.code === RAW_CODE ? cid : CID.createV1(RAW_CODE, cid.multihash)
}

function closedError (what: string): StorageError {
  return new StorageError(`cannot ${what}: this node's blockstore adapter is closed; create a new node to use the stores again`)
}
