import { setMaxListeners } from 'node:events'
import type { PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import { CustomProgressEvent } from 'progress-events'
import { blockMatchesCid, cidToString } from '../cid.js'
import { IntegrityError, InvalidInputError, NotFoundError, abortReason, throwIfAborted } from '../errors.js'
import { CHUNK_SIZE, ContentHasher } from '../chunker/index.js'
import { chunkCount, chunkSpan, decodeManifest, decodeManifestNode, nodeChunkCount, nodeOf, type Manifest } from '../manifest/index.js'
import { ProviderFeed } from './feed.js'
import { RECENT_MANIFEST_BYTES, RECENT_MANIFESTS } from './constants.js'
import { LruMap } from '../lru.js'
import { BatchWriter } from '../storage/index.js'
import { RetrievalSession, type ChunkList } from './session.js'
import type {
  ResolvedManifest, ResolvedRetrievalInit, RetrievalComponents, RetrievalService, RetrieveOptions
} from './index.js'

interface Found {
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

/** The first of `tasks` to resolve with a value; undefined when all resolve empty; rejects only if one rejects before any value. */
async function firstFound<T> (tasks: Array<Promise<T | undefined>>): Promise<T | undefined> {
  if (tasks.length === 0) {
    return undefined
  }
  return new Promise<T | undefined>((resolve, reject) => {
    let pending = tasks.length
    let settled = false
    for (const task of tasks) {
      task.then(value => {
        pending--
        if (!settled && value !== undefined) {
          settled = true
          resolve(value)
        } else if (!settled && pending === 0) {
          settled = true
          resolve(undefined)
        }
      }, (err: unknown) => {
        pending--
        if (!settled) {
          settled = true
          reject(err)
        }
      })
    }
  })
}

/** Why each peer failed for the manifest, to explain a final error. */
class Failures {
  readonly reasons: string[] = []
  integrity = false

  add (peer: PeerId, err: Error): void {
    this.integrity ||= err instanceof IntegrityError
    this.reasons.push(`${peer.toString()}: ${err.name}`)
  }

  describe (): string {
    return this.reasons.length === 0 ? 'no provider was found' : `tried ${this.reasons.join(', ')}`
  }
}

/** A manifest fetched from a peer: its verified block, decoded, and the peers known to hold it. */
interface RecentManifest {
  bytes: Uint8Array
  manifest: Manifest
  from: string
  providers: PeerId[]
}

/** The retrieval engine; created through `retrievalService()`. */
export class Retriever implements RetrievalService {
  readonly fetched = { chunks: 0, bytes: 0 }
  /** The manifests fetched from peers most recently. */
  private readonly recent = new LruMap<string, RecentManifest>(RECENT_MANIFESTS, { maxWeight: RECENT_MANIFEST_BYTES, weigh: entry => entry.bytes.byteLength })
  private readonly components: RetrievalComponents
  private readonly init: ResolvedRetrievalInit

  constructor (components: RetrievalComponents, init: ResolvedRetrievalInit) {
    this.components = components
    this.init = init
  }

  async resolveManifest (cid: CID, options: RetrieveOptions = {}): Promise<ResolvedManifest> {
    throwIfAborted(options.signal, 'retrieve')
    const feed = new ProviderFeed()
    const local = await this.components.storage.get(cid, options)
    const key = cidToString(cid)
    let bytes: Uint8Array
    let from: string
    let manifest: Manifest | undefined
    const held = local != null && blockMatchesCid(cid, local)
    const recent = held ? undefined : this.recent.get(key)
    if (held) {
      bytes = local
      from = 'local'
    } else if (recent != null) {
      ({ bytes, from, manifest } = recent)
      recent.providers.forEach(peer => { feed.push(peer) })
    } else {
      ({ bytes, from } = await this.fetchBlock(cid, feed, options, true))
    }
    if (manifest == null) {
      try {
        manifest = decodeManifest(bytes)
      } catch (err) {
        feed.stop()
        throw new InvalidInputError(`${cidToString(cid)} names a block that is not a DDS manifest: ${(err as Error).message}`, { cause: err })
      }
      if (from !== 'local') {
        this.recent.set(key, { bytes, manifest, from, providers: [...feed.peers] })
      }
    }
    if (options.store === true && from !== 'local') {
      await this.components.storage.put(cid, bytes, { signal: options.signal })
    }
    options.onProgress?.(new CustomProgressEvent('dds:retrieve:manifest', {
      cid, size: manifest.size, chunks: chunkCount(manifest.size), from
    }))
    return { cid, manifest, providers: feed.peers, feed, bytes }
  }

  async * content (resolved: ResolvedManifest, options: RetrieveOptions = {}): AsyncGenerator<Uint8Array> {
    const { manifest } = resolved
    const feed = resolved.feed ?? new ProviderFeed()
    let range: ReturnType<typeof byteRange>
    try {
      range = byteRange(manifest.size, options.offset, options.length)
    } catch (err) {
      feed.stop()
      throw err
    }
    if (range.length === 0) {
      feed.stop()
      if (range.whole) {
        this.checkWhole(resolved, new ContentHasher())
      }
      return
    }
    const first = Math.floor(range.offset / CHUNK_SIZE)
    const last = Math.floor((range.offset + range.length - 1) / CHUNK_SIZE)
    const chunks = manifest.children == null ? flatChunkList(manifest) : this.treeChunkList(manifest, feed, options)
    const session = new RetrievalSession(this.components, this.sessionLimits(), chunks, { first, last }, options.signal, (peer, cid, error) => {
      options.onProgress?.(new CustomProgressEvent('dds:retrieve:provider-failed', { peer, cid, error }))
    })
    const unsubscribe = feed.subscribe(peer => { session.addPeer(peer) })
    resolved.providers.forEach(peer => session.addPeer(peer))
    const hasher = range.whole ? new ContentHasher() : undefined
    const writer = options.store === true ? new BatchWriter(this.components.storage, options.signal) : undefined
    try {
      for await (const { index, cid, bytes, from } of session.deliver()) {
        const span = chunkSpan(manifest.size, index)
        if (bytes.byteLength !== span.length) {
          throw new IntegrityError(`chunk ${index} of ${cidToString(resolved.cid)} has ${bytes.byteLength} bytes where the manifest's size implies ${span.length}`)
        }
        if (from !== 'local') {
          this.fetched.chunks++
          this.fetched.bytes += bytes.byteLength
          if (writer != null) {
            await writer.add(cid, bytes.subarray())
          }
        }
        if (hasher != null) {
          for (const piece of bytes) {
            hasher.update(piece)
          }
          if (index === last) {
            this.checkWhole(resolved, hasher)
          }
        }
        options.onProgress?.(new CustomProgressEvent('dds:retrieve:chunk', {
          index, chunks: chunkCount(manifest.size), bytes: bytes.byteLength, from
        }))
        const start = Math.max(range.offset - span.offset, 0)
        const end = Math.min(range.offset + range.length - span.offset, span.length)
        // the chunk goes out in the pieces it arrived in: joining them would copy it
        for (const piece of start === 0 && end === span.length ? bytes : bytes.sublist(start, end)) {
          if (options.signal?.aborted === true) {
            throw abortReason(options.signal, 'retrieve')
          }
          if (piece.byteLength > 0) {
            yield piece
          }
        }
      }
      await writer?.flush()
    } finally {
      await writer?.settle()
      unsubscribe()
      feed.stop()
      options.onProgress?.(new CustomProgressEvent('dds:retrieve:done', { cid: resolved.cid, ...session.stats }))
    }
  }

  private sessionLimits (): ConstructorParameters<typeof RetrievalSession>[1] {
    return {
      window: this.init.window,
      maxPeers: this.init.maxPeers,
      maxProviders: this.init.maxProviders,
      requestBatch: this.init.requestBatch,
      providerTimeoutMs: this.init.providerTimeoutMs,
      initialWindow: this.init.initialPeerWindow,
      maxWindow: this.init.maxPeerWindow,
      minTimeoutMs: this.init.minBlockTimeoutMs,
      maxTimeoutMs: this.init.blockTimeoutMs
    }
  }

  private checkWhole (resolved: ResolvedManifest, hasher: ContentHasher): void {
    const { manifest } = resolved
    const digest = hasher.digest()
    if (hasher.size !== manifest.size || !digest.every((b, i) => b === manifest.sha256[i])) {
      throw new IntegrityError(`the content of ${cidToString(resolved.cid)} does not match its manifest's whole-content SHA-256 and size`)
    }
  }

  /**
   * The chunk list of a tree manifest: node blocks are read from the local
   * store or fetched (from the manifest's holders first) when a chunk they
   * list is first needed; only the two most recent nodes are kept.
   */
  private treeChunkList (manifest: Manifest, feed: ProviderFeed, options: RetrieveOptions): ChunkList {
    const nodes = new Map<number, Promise<CID[]>>()
    const load = async (node: number, signal: AbortSignal): Promise<CID[]> => {
      const cid = manifest.children![node]!
      const local = await this.components.storage.get(cid, { signal })
      const held = local != null && blockMatchesCid(cid, local)
      const bytes = held ? local : (await this.fetchBlock(cid, feed, { ...options, signal }, false)).bytes
      let cids: CID[]
      try {
        cids = decodeManifestNode(bytes, nodeChunkCount(manifest, node))
      } catch (err) {
        throw new IntegrityError(`node ${node} of the manifest tree is invalid: ${(err as Error).message}`, { cause: err })
      }
      if (options.store === true && !held) {
        await this.components.storage.put(cid, bytes, { signal })
      }
      return cids
    }
    return {
      count: chunkCount(manifest.size),
      cidAt: async (index, signal) => {
        const { node, position } = nodeOf(manifest, index)
        let entry = nodes.get(node)
        if (entry == null) {
          entry = load(node, signal)
          entry.catch(() => { nodes.delete(node) })
          nodes.set(node, entry)
          for (const key of nodes.keys()) {
            if (key < node - 1) {
              nodes.delete(key)
            }
          }
        }
        return (await entry)[position]!
      }
    }
  }

  /**
   * Gets one block (a manifest or a manifest node) from the peers known to
   * hold the content, then from holders the DHT names (for a manifest, the
   * search goes on in the background and feeds further holders to the
   * retrieval), then from the peers this node is connected to.
   */
  private async fetchBlock (cid: CID, feed: ProviderFeed, options: RetrieveOptions, isManifest: boolean): Promise<{ bytes: Uint8Array, from: string }> {
    const search: BlockSearch = { cid, feed, options, isManifest, failures: new Failures(), tried: new Set(), done: false }
    for (const peer of isManifest ? [] : [...feed.peers]) {
      const bytes = await this.tryPeer(peer, cid, search.tried, search.failures, options)
      if (bytes != null) {
        return { bytes, from: peer.toString() }
      }
    }
    // Connected peers are asked at once while the DHT is searched: on a small
    // network (or right after bootstrapping to the holders) they answer long
    // before a DHT query, whose first run waits for the routing table.
    const found = await firstFound([this.askConnected(search), this.searchDht(search)])
    search.done = true
    if (found != null) {
      return found
    }
    throwIfAborted(options.signal, 'retrieve')
    if (search.failures.integrity) {
      throw new IntegrityError(`no peer sent valid bytes for ${cidToString(cid)} (${search.failures.describe()})`)
    }
    throw new NotFoundError(`no reachable peer holds ${cidToString(cid)} (${search.failures.describe()}); check that a node holding it is online and connected to this network`)
  }

  /** Asks every connected peer at once; each that has the block joins the feed. */
  private async askConnected (search: BlockSearch): Promise<Found | undefined> {
    const peers = (this.components.connectedPeers?.() ?? []).slice(0, this.init.maxPeers)
    // asks still waiting when the retrieval ends are cancelled with its feed
    const signal = search.options.signal != null ? AbortSignal.any([search.options.signal, search.feed.signal]) : search.feed.signal
    // one request per connected peer listens to it
    setMaxListeners(Infinity, signal)
    const options = { ...search.options, signal }
    const asks = peers.map(async (peer) => {
      const bytes = await this.tryPeer(peer, search.cid, search.tried, search.failures, options).catch(() => undefined)
      if (bytes == null) {
        return undefined
      }
      search.feed.push(peer)
      return { bytes, from: peer.toString() }
    })
    return firstFound(asks)
  }

  /**
   * Searches the DHT for holders and asks them one by one until one sends
   * the block; once it is found (here or by a connected peer), a manifest's
   * search goes on in the background and feeds further holders.
   */
  private async searchDht (search: BlockSearch): Promise<Found | undefined> {
    const { cid, feed, options } = search
    const timeout = AbortSignal.timeout(this.init.providerTimeoutMs)
    const signal = AbortSignal.any([feed.signal, timeout, ...(options.signal != null ? [options.signal] : [])])
    const providers = this.components.discovery.findProviders(cid, this.init.maxProviders, { signal })[Symbol.asyncIterator]()
    let count = 0
    try {
      while (!search.done) {
        const next = await providers.next()
        if (next.done === true) {
          return undefined
        }
        count++
        const peer = next.value.peerId
        await this.components.addPeerAddresses?.(peer, next.value.multiaddrs)
        if (search.done) {
          feed.push(peer)
          break
        }
        const bytes = await this.tryPeer(peer, cid, search.tried, search.failures, options)
        if (bytes != null) {
          feed.push(peer)
          search.done = true
          if (search.isManifest) {
            this.feedInBackground(providers, feed)
          } else {
            await providers.return?.()
          }
          return { bytes, from: peer.toString() }
        }
      }
      if (search.isManifest) {
        this.feedInBackground(providers, feed)
      } else {
        await providers.return?.()
      }
      return undefined
    } catch (err) {
      if (options.signal?.aborted === true) {
        throw abortReason(options.signal, 'retrieve')
      }
      if (!timeout.aborted && !feed.signal.aborted) {
        throw err
      }
      return undefined
    } finally {
      options.onProgress?.(new CustomProgressEvent('dds:retrieve:providers', { cid, providers: count }))
    }
  }

  private feedInBackground (providers: AsyncIterator<{ peerId: PeerId, multiaddrs: import('@multiformats/multiaddr').Multiaddr[] }>, feed: ProviderFeed): void {
    void (async () => {
      try {
        while (!feed.signal.aborted) {
          const next = await providers.next()
          if (next.done === true) {
            return
          }
          await this.components.addPeerAddresses?.(next.value.peerId, next.value.multiaddrs)
          feed.push(next.value.peerId)
        }
      } catch {
        // the search ended (deadline, abort); the peers found so far stay in the feed
      } finally {
        await providers.return?.()
      }
    })()
  }

  private async tryPeer (peer: PeerId, cid: CID, tried: Set<string>, failures: Failures, options: RetrieveOptions): Promise<Uint8Array | undefined> {
    const key = peer.toString()
    if (tried.has(key) || this.components.network.isBanned(peer)) {
      return undefined
    }
    tried.add(key)
    try {
      return await this.components.network.retrieveBlock(peer, cid, { signal: options.signal, timeoutMs: this.init.blockTimeoutMs })
    } catch (err) {
      if (options.signal?.aborted === true) {
        throw abortReason(options.signal, 'retrieve')
      }
      failures.add(peer, err as Error)
      options.onProgress?.(new CustomProgressEvent('dds:retrieve:provider-failed', { peer: key, cid, error: err as Error }))
      return undefined
    }
  }
}

function flatChunkList (manifest: Manifest): ChunkList {
  return {
    count: manifest.chunkCids.length,
    cidAt: async (index) => manifest.chunkCids[index]!
  }
}

/** Checks a requested byte range against the content size. */
function byteRange (size: number, offset = 0, length?: number): { offset: number, length: number, whole: boolean } {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new InvalidInputError(`offset must be a non-negative integer, got ${String(offset)}`)
  }
  if (offset > size) {
    throw new InvalidInputError(`offset ${offset} is past the end of the content (${size} bytes)`)
  }
  const wanted = length ?? size - offset
  if (!Number.isSafeInteger(wanted) || wanted < 0) {
    throw new InvalidInputError(`length must be a non-negative integer, got ${String(length)}`)
  }
  if (offset + wanted > size) {
    throw new InvalidInputError(`the range ${offset}+${wanted} runs past the end of the content (${size} bytes)`)
  }
  return { offset, length: wanted, whole: offset === 0 && wanted === size }
}
