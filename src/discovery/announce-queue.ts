import type { CID } from 'multiformats/cid'
import { cidToString } from '../cid.js'
import type { Discovery } from './index.js'

/** Options of an announce queue. */
export interface AnnounceQueueInit {
  /**
   * Announcements running at once. kad-dht loses records past ~16 concurrent
   * provides per connection, so keep this modest.
   *
   * @default 8
   */
  concurrency?: number

  /** Called after each announcement, with how many DHT peers took the record, or the error. */
  onAnnounced?(cid: CID, result: { peers: number } | { error: Error }): void
}

/** Announcements running at once by default. */
export const DEFAULT_ANNOUNCE_CONCURRENCY = 8

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
  private readonly queue: CID[] = []
  private readonly queued = new Set<string>()
  private readonly controller = new AbortController()
  private running = 0
  private idleWaiters: Array<() => void> = []

  constructor (discovery: Discovery, init: AnnounceQueueInit = {}) {
    this.discovery = discovery
    this.concurrency = init.concurrency ?? DEFAULT_ANNOUNCE_CONCURRENCY
    this.onAnnounced = init.onAnnounced
  }

  /** Announcements waiting or running. */
  get pending (): number {
    return this.queue.length + this.running
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
    this.queue.length = 0
    this.queued.clear()
    this.settleIdle()
  }

  private pump (): void {
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
