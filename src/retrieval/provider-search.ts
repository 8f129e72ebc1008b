import type { PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import type { Provider } from '../discovery/index.js'
import { abortReason } from '../errors.js'
import { deadlineSignal, type DeadlineSignal } from '../signals.js'
import type { ProviderFeed } from './feed.js'
import type { RetrievalComponents } from './index.js'

/** What a provider search needs from the node. */
export type ProviderSearchComponents = Pick<RetrievalComponents, 'discovery' | 'addPeerAddresses'>

/** Bounds of one provider search. */
export interface ProviderSearchInit {
  /** Holders to ask the DHT for. */
  count: number
  /** How long the search may run, in ms. */
  timeoutMs: number
  /** The caller's signal: its abort ends the search and is thrown by `next()`. */
  signal?: AbortSignal
}

/**
 * One search of the DHT for the holders of a block, pulled one holder at a
 * time: the caller may try each holder before it asks for the next, and may
 * leave the rest of the search to run in the background. Each holder's
 * addresses are recorded before it is handed on, so the network can dial
 * it. The search ends when the DHT has no more holders, when `count` were
 * found, when its deadline passes or when it is stopped; none of those is an
 * error (finding nobody is the caller's to judge).
 */
export class ProviderSearch {
  private readonly components: ProviderSearchComponents
  private readonly callerSignal?: AbortSignal
  private readonly deadline: DeadlineSignal
  private readonly providers: AsyncIterator<Provider>
  private ended = false
  private stopped = false
  private count = 0

  constructor (components: ProviderSearchComponents, cid: CID, init: ProviderSearchInit) {
    this.components = components
    this.callerSignal = init.signal
    // one timer and one listener on the caller's signal; stop() aborts it too
    this.deadline = deadlineSignal(init.signal, init.timeoutMs)
    this.providers = components.discovery.findProviders(cid, init.count, { signal: this.deadline.signal })[Symbol.asyncIterator]()
  }

  /** Holders handed on so far. */
  get found (): number {
    return this.count
  }

  /**
   * The next holder, or undefined once the search has ended.
   *
   * @throws the caller's abort reason (a DDS error) when its signal aborts, and any other error of the discovery
   */
  async next (): Promise<PeerId | undefined> {
    if (this.ended) {
      return undefined
    }
    try {
      const next = await this.providers.next()
      if (next.done === true) {
        this.end()
        return undefined
      }
      this.count++
      // a peer store whose write waits (a lock held, a slow datastore) holds the search no longer than its deadline
      await this.components.addPeerAddresses?.(next.value.peerId, next.value.multiaddrs, { signal: this.deadline.signal })
      return next.value.peerId
    } catch (err) {
      this.end()
      if (this.callerSignal?.aborted === true) {
        throw abortReason(this.callerSignal, 'retrieve')
      }
      if (this.deadline.timedOut || this.stopped) {
        return undefined
      }
      throw err
    }
  }

  /**
   * Hands every further holder to `feed` as it is found, in the background,
   * until the search ends or the feed stops. A failure ends it quietly: the
   * holders found so far stay in the feed.
   */
  feed (feed: ProviderFeed): void {
    if (feed.signal.aborted) {
      this.stop()
      return
    }
    const stop = (): void => { this.stop() }
    feed.signal.addEventListener('abort', stop, { once: true })
    void (async () => {
      for (let peer = await this.next(); peer != null; peer = await this.next()) {
        feed.push(peer)
      }
    // a search that fails ends quietly: the holders found so far stay in the feed (see above)
    })().catch(() => {}).finally(() => {
      feed.signal.removeEventListener('abort', stop)
    })
  }

  /** Ends the search now; a `next()` waiting for the DHT resolves undefined. Idempotent. */
  stop (): void {
    if (this.ended) {
      return
    }
    this.stopped = true
    this.deadline.abort()
    this.end()
  }

  private end (): void {
    if (this.ended) {
      return
    }
    this.ended = true
    this.deadline.clear()
    // lets the discovery's iterator run its cleanup (a pending next() settles first)
    this.providers.return?.().catch(() => {})
  }
}
