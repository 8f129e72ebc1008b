import { StorageError, throwIfAborted } from '../../errors.js'
import { assertBytes, assertCid, collectBlocks } from '../validate.js'
import { cidKey } from '../../cid.js'
import type { CID } from 'multiformats/cid'
import type { AbortOptions } from '@libp2p/interface'
import { memoryRecords, type RecordStore } from '../records.js'
import type { Block, StorageProvider, StorageStats } from '../index.js'

/**
 * A block store in a `Map`, keyed by the CID's string form. It copies bytes on
 * the way in and on the way out, so neither the caller's array nor the one it
 * gets back can change what is stored. Every operation completes
 * synchronously inside its promise, so concurrent calls cannot interleave.
 */
export class MemoryStorage implements StorageProvider {
  readonly kind = 'memory'
  readonly #blocks = new Map<string, Block>()
  readonly #tables = new Map<string, RecordStore>()
  #bytes = 0
  #closed = false

  async open (): Promise<void> {
    this.#assertOpen('open')
  }

  async close (): Promise<void> {
    this.#closed = true
    this.#blocks.clear()
    this.#tables.clear()
    this.#bytes = 0
  }

  async put (cid: CID, bytes: Uint8Array, options?: AbortOptions): Promise<void> {
    this.#prepare('put', options)
    this.#store(assertCid(cid, 'put'), assertBytes(bytes, 'put'))
  }

  async putMany (blocks: Iterable<Block>, options?: AbortOptions): Promise<void> {
    this.#prepare('putMany', options)
    for (const block of collectBlocks(blocks, 'putMany')) {
      this.#store(block.cid, block.bytes)
    }
  }

  async get (cid: CID, options?: AbortOptions): Promise<Uint8Array | undefined> {
    this.#prepare('get', options)
    const block = this.#blocks.get(cidKey(assertCid(cid, 'get')))
    return block?.bytes.slice()
  }

  async has (cid: CID, options?: AbortOptions): Promise<boolean> {
    this.#prepare('has', options)
    return this.#blocks.has(cidKey(assertCid(cid, 'has')))
  }

  async delete (cid: CID, options?: AbortOptions): Promise<void> {
    this.#prepare('delete', options)
    const key = cidKey(assertCid(cid, 'delete'))
    const block = this.#blocks.get(key)
    if (block != null) {
      this.#blocks.delete(key)
      this.#bytes -= block.bytes.byteLength
    }
  }

  async * list (options?: AbortOptions): AsyncGenerator<CID> {
    this.#prepare('list', options)
    for (const block of this.#blocks.values()) {
      yield block.cid
      this.#prepare('list', options)
    }
  }

  async stats (options?: AbortOptions): Promise<StorageStats> {
    this.#prepare('stats', options)
    return { blocks: this.#blocks.size, bytes: this.#bytes }
  }

  /** The record table `name`, in memory like the blocks. */
  records (name: string): RecordStore {
    this.#assertOpen('open a record table')
    let table = this.#tables.get(name)
    if (table == null) {
      table = memoryRecords()
      this.#tables.set(name, table)
    }
    return table
  }

  #store (cid: CID, bytes: Uint8Array): void {
    const key = cidKey(cid)
    if (this.#blocks.has(key)) {
      return
    }
    this.#blocks.set(key, { cid, bytes: bytes.slice() })
    this.#bytes += bytes.byteLength
  }

  #prepare (what: string, options?: AbortOptions): void {
    this.#assertOpen(what)
    throwIfAborted(options?.signal, `storage ${what}`)
  }

  #assertOpen (what: string): void {
    if (this.#closed) {
      throw new StorageError(`cannot ${what}: the memory store is closed; create a new store with memoryStorage()`)
    }
  }
}
