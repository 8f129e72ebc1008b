import { setMaxListeners } from 'node:events'
import type { PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import parallel from 'it-parallel'
import { CustomProgressEvent } from 'progress-events'
import { BusyError, NoDirectPathError, RejectedError, RemoteError, abortReason, throwIfAborted } from '../errors.js'
import { raceSignal, sleep } from '../signals.js'
import type { ProviderFeed } from './feed.js'
import { Failures, unavailableError } from './failures.js'
import { ProviderSearch } from './provider-search.js'
import { DEFAULT_BUSY_REST_MS, MAX_BUSY_RETRIES, PARALLEL_PROVIDER_ASKS, PROVIDER_FIRST_ANSWER_MS, PROVIDER_HEDGE_MS } from './constants.js'
import type { ResolvedRetrievalInit, RetrievalComponents, RetrieveOptions } from './index.js'

/** A block and the peer that sent it. */
export interface FetchedBlock {
  bytes: Uint8Array
  from: string
}

/** One search for a block across connected peers and the DHT. */
interface BlockSearch {
  cid: CID
  feed: ProviderFeed
  options: RetrieveOptions
  isManifest: boolean
  failures: Failures
  tried: Set<string>
  /** Set once the block is found: the other searchers stop asking for it. */
  done: boolean
}

/** The limits a block fetch obeys. */
export type BlockFetchLimits = Pick<ResolvedRetrievalInit, 'maxPeers' | 'maxProviders' | 'providerTimeoutMs' | 'blockTimeoutMs'>

/**
 * Fetches single blocks a retrieval needs before it can stream chunks: a
 * manifest, and the nodes of a manifest tree. Each is asked of one peer at a
 * time (a block is small and there is no window to fill), verified by the
 * network against its CID.
 */
export class BlockFetcher {
  private readonly components: RetrievalComponents
  private readonly limits: BlockFetchLimits

  constructor (components: RetrievalComponents, limits: BlockFetchLimits) {
    this.components = components
    this.limits = limits
  }

  /**
   * Gets one block (a manifest or a manifest node) from the peers known to
   * hold the content, then from holders the DHT names (for a manifest, the
   * search goes on in the background and feeds further holders to the
   * retrieval), then from the peers this node is connected to.
   *
   * @throws {NotFoundError} when no peer sent it, {IntegrityError} when the only answers were wrong bytes
   */
  async fetch (cid: CID, feed: ProviderFeed, options: RetrieveOptions, isManifest: boolean): Promise<FetchedBlock> {
    const search: BlockSearch = { cid, feed, options, isManifest, failures: new Failures(), tried: new Set(), done: false }
    for (const peer of isManifest ? [] : [...feed.peers]) {
      const bytes = await this.tryPeer(peer, search, options)
      if (bytes != null) {
        return { bytes, from: peer.toString() }
      }
    }
    // Connected peers are asked at once while the DHT is searched: on a small
    // network (or right after bootstrapping to the holders) they answer long
    // before a DHT query, whose first run waits for the routing table.
    const found = await firstFound([async () => this.askConnected(search), async () => this.searchDht(search)])
    search.done = true
    if (found != null) {
      return found
    }
    throwIfAborted(options.signal, 'retrieve')
    throw unavailableError(cid, search.failures)
  }

  /** Asks every connected peer at once; each that has the block joins the feed. */
  private async askConnected (search: BlockSearch): Promise<FetchedBlock | undefined> {
    const peers = (this.components.connectedPeers?.() ?? []).slice(0, this.limits.maxPeers)
    // asks still waiting when the retrieval ends are cancelled with its feed
    const signal = search.options.signal != null ? AbortSignal.any([search.options.signal, search.feed.signal]) : search.feed.signal
    // one request per connected peer listens to it
    setMaxListeners(Infinity, signal)
    const options = { ...search.options, signal }
    return firstFound(peers.map(peer => async () => {
      const bytes = await this.tryPeer(peer, search, options).catch(() => undefined)
      if (bytes == null) {
        return undefined
      }
      search.feed.push(peer)
      return { bytes, from: peer.toString() }
    }))
  }

  /**
   * Searches the DHT for holders and asks `PARALLEL_PROVIDER_ASKS` of them
   * at once, and one more each `PROVIDER_HEDGE_MS` that none answered, each
   * with `PROVIDER_FIRST_ANSWER_MS` to answer, until one sends the block. Holders that missed that
   * deadline are asked again with the full one if nobody sent it, so a slow
   * real holder still serves. Once the block is found (here or by a connected
   * peer), a manifest's search goes on in the background and feeds further
   * holders.
   */
  private async searchDht (search: BlockSearch): Promise<FetchedBlock | undefined> {
    const { cid, feed, options } = search
    const providers = new ProviderSearch(this.components, cid, { count: this.limits.maxProviders, timeoutMs: this.limits.providerTimeoutMs, signal: options.signal })
    // the asks still running when one holder answered are cancelled
    const asks = new AbortController()
    const signal = options.signal != null ? AbortSignal.any([options.signal, asks.signal]) : asks.signal
    setMaxListeners(Infinity, signal)
    const first = { ...options, signal }
    try {
      const late: PeerId[] = []
      const found = await this.askProviders(search, providers, first, late)
      if (found != null || search.done) {
        return found
      }
      // nobody answered in time: the late ones get the full deadline
      return await firstFound(late.map(peer => async () => {
        const bytes = await this.tryPeer(peer, search, first, this.limits.blockTimeoutMs, true)
        if (bytes == null) {
          return undefined
        }
        feed.push(peer)
        search.done = true
        return { bytes, from: peer.toString() }
      }))
    } finally {
      asks.abort()
      // from now on the DHT's further holders go to the feed (see askProviders)
      search.done = true
      if (search.isManifest && !feed.signal.aborted) {
        feed.signal.addEventListener('abort', () => { providers.stop() }, { once: true })
      } else {
        providers.stop()
      }
      options.onProgress?.(new CustomProgressEvent('dds:retrieve:providers', { cid, providers: providers.found }))
    }
  }

  /**
   * Asks holders as the DHT names them, a few at once; those that miss the
   * first-answer deadline go to `late`. The DHT's answers are taken as they
   * come, not as asks finish: a lookup left waiting while its consumer is
   * busy would run into its own deadline and lose the holders it found.
   * Once the block is found, further holders go to the retrieval's feed.
   */
  private async askProviders (search: BlockSearch, providers: ProviderSearch, options: RetrieveOptions, late: PeerId[]): Promise<FetchedBlock | undefined> {
    interface Answer { ask: Promise<Answer>, peer: PeerId, bytes?: Uint8Array, timedOut: boolean, error?: Error }
    const named: PeerId[] = []
    const dht: { exhausted: boolean, error?: unknown, wake?: () => void } = { exhausted: false }
    void (async () => {
      for (let peer = await providers.next(); peer != null; peer = await providers.next()) {
        if (search.done) {
          search.feed.push(peer)
        } else {
          named.push(peer)
          dht.wake?.()
        }
      }
    })().catch((err: unknown) => { dht.error = err }).finally(() => {
      dht.exhausted = true
      dht.wake?.()
    })
    const running = new Set<Promise<Answer>>()
    let hedge = false
    let lastAsk = 0
    let timer: ReturnType<typeof setTimeout> | undefined
    try {
      while (!search.done) {
        // a few at once; one more each PROVIDER_HEDGE_MS that none of them answered
        while (named.length > 0 && (running.size < PARALLEL_PROVIDER_ASKS || hedge)) {
          hedge = false
          lastAsk = Date.now()
          const peer = named.shift()!
          const timedOut = { value: false }
          // an ask never rejects: one left running when the search ends must not be an unhandled rejection
          const ask: Promise<Answer> = this.tryPeer(peer, search, options, PROVIDER_FIRST_ANSWER_MS, false, timedOut)
            .then(bytes => ({ ask, peer, bytes, timedOut: timedOut.value }), (error: Error) => ({ ask, peer, timedOut: false, error }))
          running.add(ask)
        }
        if (running.size === 0 && dht.exhausted) {
          if (dht.error != null) {
            throw dht.error
          }
          return undefined
        }
        const woken = new Promise<undefined>(resolve => {
          dht.wake = () => { resolve(undefined) }
          if (running.size > 0 && named.length > 0) {
            timer = setTimeout(() => {
              hedge = true
              resolve(undefined)
            }, Math.max(0, lastAsk + PROVIDER_HEDGE_MS - Date.now()))
          }
        })
        // the caller's abort ends the wait even while no ask runs and the DHT's next holder is held up
        const answer = await raceSignal(Promise.race([...running, woken]), options.signal, 'retrieve')
        clearTimeout(timer)
        dht.wake = undefined
        if (answer == null) {
          continue
        }
        running.delete(answer.ask)
        if (answer.error != null) {
          throw answer.error
        }
        if (answer.bytes != null) {
          search.feed.push(answer.peer)
          search.done = true
          return { bytes: answer.bytes, from: answer.peer.toString() }
        }
        if (answer.timedOut) {
          late.push(answer.peer)
        }
      }
      // found by a connected peer meanwhile
      return undefined
    } finally {
      clearTimeout(timer)
      // holders named but not asked still feed the retrieval
      for (const peer of named.splice(0)) {
        search.feed.push(peer)
      }
    }
  }

  /**
   * Asks one peer for the block, once per search (`again` asks a peer that
   * missed a shorter deadline a second time); undefined when it failed.
   * `timedOut` is set when the peer missed `timeoutMs`.
   */
  private async tryPeer (peer: PeerId, search: BlockSearch, options: RetrieveOptions, timeoutMs = this.limits.blockTimeoutMs, again = false, timedOut?: { value: boolean }): Promise<Uint8Array | undefined> {
    const key = peer.toString()
    if ((search.tried.has(key) && !again) || this.components.network.isBanned(peer)) {
      return undefined
    }
    search.tried.add(key)
    try {
      for (let busy = 0; ; busy++) {
        try {
          // a manifest or tree node is small: it may come over a relayed
          // connection; one too large for that is asked again over a direct one
          try {
            return await this.components.network.retrieveBlock(peer, search.cid, { signal: options.signal, timeoutMs, relayed: true })
          } catch (err) {
            if (!(err instanceof RejectedError)) {
              throw err
            }
            return await this.components.network.retrieveBlock(peer, search.cid, { signal: options.signal, timeoutMs })
          }
        } catch (err) {
          // BUSY: the peer may well hold the block; ask it again once it is
          // ready (the other peers of the search are asked meanwhile)
          if (!(err instanceof BusyError) || busy >= MAX_BUSY_RETRIES) {
            throw err
          }
          await sleep(err.retryAfterMs > 0 ? err.retryAfterMs : DEFAULT_BUSY_REST_MS, options.signal)
        }
      }
    } catch (err) {
      if (options.signal?.aborted === true) {
        if (search.done) {
          // another holder answered first and this ask was cancelled
          return undefined
        }
        throw abortReason(options.signal, 'retrieve')
      }
      // a holder that was slow, or whose connection could not be made or
      // broke, is asked again with the full deadline if nobody sends the block
      if (timedOut != null && ((err as Error).name === 'TimeoutError' || (err instanceof RemoteError && !(err instanceof NoDirectPathError) && !(err instanceof BusyError)))) {
        timedOut.value = true
      }
      search.failures.add(key, err as Error)
      options.onProgress?.(new CustomProgressEvent('dds:retrieve:provider-failed', { peer: key, cid: search.cid, error: err as Error }))
      return undefined
    }
  }
}

/** Runs `tasks` at once: the first value one resolves with; undefined when all resolve empty; rejects if one rejects before any value. */
async function firstFound<T> (tasks: Array<() => Promise<T | undefined>>): Promise<T | undefined> {
  for await (const value of parallel(tasks)) {
    if (value !== undefined) {
      return value
    }
  }
  return undefined
}
