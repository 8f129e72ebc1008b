import type { CID } from 'multiformats/cid'
import { cidToString } from '../cid.js'
import { numberOption } from '../options.js'
import { DEFAULT_ANNOUNCE_CONCURRENCY, SWEEP_QUEUE_BATCH } from './constants.js'
import type { Discovery } from './index.js'

export { DEFAULT_ANNOUNCE_CONCURRENCY }

/** Options of an announce queue. */
export interface AnnounceQueueInit {
  /**
   * Announcements running at once (a whole number of at least 1). kad-dht
   * loses records past ~16 concurrent provides per connection, so keep this
   * modest.
   *
   * @default 8
   */
  concurrency?: number

  /** Called after each announcement, with how many DHT peers took the record, or the error. */
  onAnnounced?(cid: CID, result: { peers: number } | { error: Error }): void

  /** Called when a sweep (`provideMany`) reports why records did not reach some peers (the first few), and how many times sending to a peer failed. */
  onSweepFailures?(failures: string[], records: number, failedPeers: number): void
}

/**
 * Announces blocks in the background, a bounded number at a time, so that a
 * publish of thousands of chunks does not wait minutes for the DHT. The queue
 * holds CIDs only (36 bytes each), never block bytes; a CID already queued is
 * not queued twice.
 */
export class AnnounceQueue {
  private readonly discovery: Discovery
  private readonly concurrency: number
  private readonly onAnnounced?: AnnounceQueueInit['onAnnounced']
  private readonly onSweepFailures?: AnnounceQueueInit['onSweepFailures']
  private readonly queue: CID[] = []
  private readonly queued = new Set<string>()
  private readonly sources: Array<{ iterator: AsyncIterator<CID>, remaining: number }> = []
  private pulling = false
  /** CIDs in the sweep now running (when the discovery has `provideMany`). */
  private sweeping = 0
  private readonly controller = new AbortController()
  private running = 0
  private idleWaiters: Array<() => void> = []

  /** @throws {InvalidInputError} when `concurrency` is not a whole number of at least 1 */
  constructor (discovery: Discovery, init: AnnounceQueueInit = {}) {
    this.discovery = discovery
    this.concurrency = numberOption('concurrency', init.concurrency, DEFAULT_ANNOUNCE_CONCURRENCY)
    this.onAnnounced = init.onAnnounced
    this.onSweepFailures = init.onSweepFailures
  }

  /** Announcements waiting or running (including those still to be read from sources). */
  get pending (): number {
    return this.queue.length + this.running + this.sweeping + this.sources.reduce((sum, s) => sum + s.remaining, 0)
  }

  /**
   * Queues the CIDs a source yields, read only as announcements free up, so
   * that announcing the chunks of huge content never holds all their CIDs.
   * `count` is how many the source will yield (for `pending`).
   */
  addSource (source: AsyncIterable<CID>, count: number): void {
    if (this.controller.signal.aborted) {
      return
    }
    this.sources.push({ iterator: source[Symbol.asyncIterator](), remaining: count })
    this.pump()
  }

  /** Queues CIDs for announcement. */
  add (cids: Iterable<CID>): void {
    if (this.controller.signal.aborted) {
      return
    }
    for (const cid of cids) {
      const key = cidToString(cid)
      if (!this.queued.has(key)) {
        this.queued.add(key)
        this.queue.push(cid)
      }
    }
    this.pump()
  }

  /** Resolves when nothing is waiting or running. */
  async onIdle (): Promise<void> {
    if (this.pending === 0) {
      return
    }
    await new Promise<void>(resolve => { this.idleWaiters.push(resolve) })
  }

  /** Drops what is waiting and aborts what is running. */
  stop (): void {
    this.controller.abort()
    for (const source of this.sources.splice(0)) {
      // the queue is stopping: a source that fails to close has nothing more to announce
      source.iterator.return?.().catch(() => {})
    }
    this.queue.length = 0
    this.queued.clear()
    this.settleIdle()
  }

  /** Reads the next CID of the first source into the queue, or with `provideMany` a batch of them into a sweep. */
  private pull (): void {
    const source = this.sources[0]
    if (this.pulling || source == null || this.controller.signal.aborted) {
      return
    }
    this.pulling = true
    if (this.discovery.provideMany != null) {
      this.sweep(source, this.discovery.provideMany.bind(this.discovery)).finally(() => {
        this.pulling = false
        this.pump()
        this.settleIdle()
      // failures are reported per CID through onAnnounced; what is left is the scheduling, which cannot fail
      }).catch(() => {})
      return
    }
    source.iterator.next().then(next => {
      if (next.done === true) {
        this.sources.shift()
      } else {
        source.remaining = Math.max(0, source.remaining - 1)
        this.add([next.value])
      }
    }, () => {
      // a source that fails (its blocks vanished) is dropped
      this.sources.shift()
    }).finally(() => {
      this.pulling = false
      this.pump()
      this.settleIdle()
    // provide failures are counted in the result; what is left is the scheduling, which cannot fail
    }).catch(() => {})
  }

  /**
   * Reads up to `SWEEP_QUEUE_BATCH` CIDs of a source and announces them with
   * one `provideMany`: many records per DHT walk and per stream.
   */
  private async sweep (source: { iterator: AsyncIterator<CID>, remaining: number }, provideMany: NonNullable<Discovery['provideMany']>): Promise<void> {
    const batch: CID[] = []
    try {
      while (batch.length < SWEEP_QUEUE_BATCH) {
        const next = await source.iterator.next()
        if (next.done === true) {
          this.sources.shift()
          break
        }
        batch.push(next.value)
        source.remaining = Math.max(0, source.remaining - 1)
        this.sweeping++
      }
    } catch {
      // a source that fails (its blocks vanished) is dropped; what was read is still announced
      this.sources.shift()
    }
    if (batch.length === 0) {
      return
    }
    try {
      const { peers, failures, failedPeers } = await provideMany(batch, { signal: this.controller.signal })
      if (failures != null && failures.length > 0) {
        this.onSweepFailures?.(failures, batch.length, failedPeers ?? failures.length)
      }
      batch.forEach((cid, i) => { this.onAnnounced?.(cid, { peers: peers[i] ?? 0 }) })
    } catch (err) {
      batch.forEach(cid => { this.onAnnounced?.(cid, { error: err as Error }) })
    } finally {
      this.sweeping -= batch.length
    }
  }

  private pump (): void {
    if (this.queue.length === 0 || (this.discovery.provideMany != null && this.sources.length > 0)) {
      if (this.running < this.concurrency || this.discovery.provideMany != null) {
        this.pull()
      }
    }
    while (this.running < this.concurrency && this.queue.length > 0) {
      const cid = this.queue.shift()!
      this.running++
      this.discovery.provide(cid, { signal: this.controller.signal })
        .then(result => { this.onAnnounced?.(cid, result) }, (err: Error) => { this.onAnnounced?.(cid, { error: err }) })
        .finally(() => {
          this.running--
          this.queued.delete(cidToString(cid))
          this.pump()
          this.settleIdle()
        })
        // each provide's failure is recorded in `unannounced` above
        .catch(() => {})
    }
  }

  private settleIdle (): void {
    if (this.pending === 0 || this.controller.signal.aborted) {
      const waiters = this.idleWaiters
      this.idleWaiters = []
      waiters.forEach(resolve => { resolve() })
    }
  }
}
