import { datastoreRecords } from './datastore-records.js'
import type { AbortOptions } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import type { Datastore } from 'interface-datastore'
import type { Block, StorageProvider, StorageStats } from '../index.js'
import type { RecordStore } from '../records.js'

/**
 * A caller's own `StorageProvider` with its record tables in a datastore:
 * every block call goes to the provider, `records(name)` to `/dds/<name>/`
 * in the datastore.
 */
export class RecordsBeside implements StorageProvider {
  readonly kind: string
  readonly #provider: StorageProvider
  readonly #datastore: Datastore
  readonly #tables = new Map<string, RecordStore>()

  constructor (provider: StorageProvider, datastore: Datastore) {
    this.kind = provider.kind
    this.#provider = provider
    this.#datastore = datastore
  }

  async open (): Promise<void> {
    await this.#provider.open()
    await (this.#datastore as { open?: () => unknown }).open?.call(this.#datastore)
  }

  async close (): Promise<void> { await this.#provider.close() }
  async put (cid: CID, bytes: Uint8Array, options?: AbortOptions): Promise<void> { await this.#provider.put(cid, bytes, options) }
  async putMany (blocks: Iterable<Block>, options?: AbortOptions): Promise<void> { await this.#provider.putMany(blocks, options) }
  async get (cid: CID, options?: AbortOptions): Promise<Uint8Array | undefined> { return this.#provider.get(cid, options) }
  async has (cid: CID, options?: AbortOptions): Promise<boolean> { return this.#provider.has(cid, options) }
  async delete (cid: CID, options?: AbortOptions): Promise<void> { await this.#provider.delete(cid, options) }
  list (options?: AbortOptions): AsyncIterable<CID> { return this.#provider.list(options) }
  async stats (options?: AbortOptions): Promise<StorageStats> { return this.#provider.stats(options) }

  records (name: string): RecordStore {
    let table = this.#tables.get(name)
    if (table == null) {
      table = datastoreRecords(this.#datastore, name)
      this.#tables.set(name, table)
    }
    return table
  }
}
