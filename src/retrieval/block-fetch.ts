import { setMaxListeners } from 'node:events'
import type { PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import parallel from 'it-parallel'
import { CustomProgressEvent } from 'progress-events'
import { abortReason, throwIfAborted } from '../errors.js'
import type { ProviderFeed } from './feed.js'
import { Failures, unavailableError } from './failures.js'
import { ProviderSearch } from './provider-search.js'
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
   * Searches the DHT for holders and asks them one by one until one sends
   * the block; once it is found (here or by a connected peer), a manifest's
   * search goes on in the background and feeds further holders.
   */
  private async searchDht (search: BlockSearch): Promise<FetchedBlock | undefined> {
    const { cid, feed, options } = search
    const providers = new ProviderSearch(this.components, cid, { count: this.limits.maxProviders, timeoutMs: this.limits.providerTimeoutMs, signal: options.signal })
    try {
      for (let peer = await providers.next(); peer != null; peer = await providers.next()) {
        if (search.done) {
          feed.push(peer)
          return undefined
        }
        const bytes = await this.tryPeer(peer, search, options)
        if (bytes != null) {
          feed.push(peer)
          search.done = true
          return { bytes, from: peer.toString() }
        }
      }
      return undefined
    } finally {
      if (search.isManifest) {
        providers.feed(feed)
      } else {
        providers.stop()
      }
      options.onProgress?.(new CustomProgressEvent('dds:retrieve:providers', { cid, providers: providers.found }))
    }
  }

  private async tryPeer (peer: PeerId, search: BlockSearch, options: RetrieveOptions): Promise<Uint8Array | undefined> {
    const key = peer.toString()
    if (search.tried.has(key) || this.components.network.isBanned(peer)) {
      return undefined
    }
    search.tried.add(key)
    try {
      return await this.components.network.retrieveBlock(peer, search.cid, { signal: options.signal, timeoutMs: this.limits.blockTimeoutMs })
    } catch (err) {
      if (options.signal?.aborted === true) {
        throw abortReason(options.signal, 'retrieve')
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
