import type { CID } from 'multiformats/cid'
import { WRITE_BATCH_BLOCKS } from './constants.js'
import type { Block, StorageProvider } from './index.js'

/**
 * Writes blocks to a store in batches of `WRITE_BATCH_BLOCKS`, one batch in
 * flight while the next fills, so hashing or fetching the next blocks
 * overlaps the store's write. Publishing and fetches that store what they
 * receive (pins, replicas) both write through one.
 *
 * A failed write surfaces at the next `add` or at `flush`, never as an
 * unhandled rejection while the caller is still producing blocks.
 */
export class BatchWriter {
  private batch: Block[] = []
  private writing: Promise<void> = Promise.resolve()
  private readonly storage: Pick<StorageProvider, 'putMany'>
  private readonly signal?: AbortSignal

  constructor (storage: Pick<StorageProvider, 'putMany'>, signal?: AbortSignal) {
    this.storage = storage
    this.signal = signal
  }

  /** Queues a block; once a batch is full, waits for the write before it (if still running) and starts this one. */
  async add (cid: CID, bytes: Uint8Array): Promise<void> {
    this.batch.push({ cid, bytes })
    if (this.batch.length >= WRITE_BATCH_BLOCKS) {
      await this.write()
    }
  }

  /**
   * Writes what is queued (with `last` appended, in the same batch) and
   * waits until every write has finished. The batch is atomic only on a
   * store whose `putMany` is; nothing counts on it: the manifest goes in
   * the last batch, and the pin that makes the content count is written
   * after this resolves.
   */
  async flush (...last: Block[]): Promise<void> {
    this.batch.push(...last)
    await this.write()
    await this.writing
  }

  /** Waits for a write still in flight, ignoring its outcome (used on the way out of an error). */
  async settle (): Promise<void> {
    await this.writing.catch(() => {})
  }

  private async write (): Promise<void> {
    await this.writing
    if (this.batch.length === 0) {
      return
    }
    this.writing = this.storage.putMany(this.batch, { signal: this.signal })
    this.writing.catch(() => {})
    this.batch = []
  }
}
