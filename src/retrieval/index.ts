/**
 * The fetch engine: finds who holds content, fetches its manifest and chunks
 * from them, verifies every block and yields the content in order.
 *
 * Where each part lives:
 * - `retriever.ts`: the service; streams a resolved manifest's content (range
 *   checks, chunk sizes, the whole-content SHA-256).
 * - `manifests.ts`: finds a manifest (local store, recent ones, peers) and
 *   the chunk list it describes (`chunk-list.ts`: a tree's nodes read lazily);
 *   `block-fetch.ts` fetches such single blocks from peers.
 * - `session.ts`: one read's scheduler over many peers (`peer-state.ts`: each
 *   peer's window and deadline; `late.ts`: the rescue of a late chunk and the
 *   endgame; `parked.ts`: the search for holders of chunks nobody serves).
 * - `provider-search.ts`: the one DHT search for holders, which `feed.ts`
 *   hands to a running session; `failures.ts`: the error when nobody delivers.
 * - `constants.ts`: every default and limit (listed in doc/LIMITS.md).
 *
 * @module
 */

import type { AbortOptions, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { ProgressEvent, ProgressOptions } from 'progress-events'
import type { CID } from 'multiformats/cid'
import type { Discovery } from '../discovery/index.js'
import type { NetworkService } from '../network/index.js'
import type { StorageProvider } from '../storage/index.js'
import type { Manifest } from '../manifest/index.js'
import { InvalidInputError } from '../errors.js'
import { numberOption } from '../options.js'
import { Retriever } from './retriever.js'
import type { ProviderFeed } from './feed.js'
import type { SessionStats } from './session.js'
import * as c from './constants.js'

export type RetrieveProgressEvents =
  | ProgressEvent<'dds:retrieve:providers', { cid: CID, providers: number }>
  | ProgressEvent<'dds:retrieve:manifest', { cid: CID, size: number, chunks: number, from: 'local' | string }>
  | ProgressEvent<'dds:retrieve:chunk', { index: number, chunks: number, bytes: number, from: 'local' | string }>
  | ProgressEvent<'dds:retrieve:provider-failed', { peer: string, cid: CID, error: Error }>
  | ProgressEvent<'dds:retrieve:done', SessionStats & { cid: CID }>

/** Options of one retrieval. */
export interface RetrieveOptions extends AbortOptions, ProgressOptions<RetrieveProgressEvents> {
  /**
   * First byte of the content to return. Only the chunks covering the range
   * are fetched; each is verified against its CID (the whole-content SHA-256
   * is checked only when the whole content is read).
   *
   * @default 0
   */
  offset?: number
  /**
   * Bytes to return from `offset`; a range past the end of the content is an
   * `InvalidInputError`.
   *
   * @default the rest of the content
   */
  length?: number
  /**
   * Also write every block fetched from peers (manifest, tree nodes, chunks)
   * to the local store, verified, so this node then holds the content. Used
   * to pin and to replicate.
   *
   * @default false
   */
  store?: boolean
  /**
   * Chunks this retrieval keeps in flight or held ahead of its reader: what
   * it may buffer is `window` × 256 KiB. A reader that consumes slowly (an
   * HTTP client, a media player) needs far fewer than the node's default.
   *
   * @default the node's `retrieval.window` (64)
   */
  window?: number
  /**
   * `Dds.retrieve` of a collection: the entry at this path (e.g.
   * `disc 1/01 intro.flac`) instead of the collection's own list. `offset`
   * and `length` then apply to the entry.
   */
  path?: string
}

/** A manifest and the peers it was found on. */
export interface ResolvedManifest {
  cid: CID
  manifest: Manifest
  /** Peers known to hold the manifest so far (empty when it was local). */
  providers: PeerId[]
  /** Holders found later by the search that is still running. */
  feed?: ProviderFeed
  /** The verified manifest block. */
  bytes: Uint8Array
  /**
   * Stops the search for more holders that runs on in the background after
   * the manifest was found. `content()` calls it when it ends; a caller that
   * resolves a manifest without reading its content calls it when done with
   * the manifest. Idempotent.
   */
  close(): void
}

/** What the retrieval engine does. */
export interface RetrievalService {
  /** Verified chunks (and their bytes) received from peers by every retrieval since start, each counted once. */
  readonly fetched: { readonly chunks: number, readonly bytes: number }
  /** Fetches (or reads locally) and verifies the manifest named by `cid`. */
  resolveManifest(cid: CID, options?: RetrieveOptions): Promise<ResolvedManifest>
  /** Yields the verified content of a resolved manifest, in order. */
  content(resolved: ResolvedManifest, options?: RetrieveOptions): AsyncGenerator<Uint8Array>
}

/** What the retrieval engine needs from the node. */
export interface RetrievalComponents {
  network: Pick<NetworkService, 'retrieveBlock' | 'retrieveBlockPieces' | 'isBanned' | 'pathTo' | 'openDirect'>
  discovery: Discovery
  storage: StorageProvider
  /** Peers this node is connected to; asked when the DHT names no holder of a block. */
  connectedPeers?(): PeerId[]
  /** Remembers the addresses of a provider so the network can dial it; gives up when `options.signal` aborts. */
  addPeerAddresses?(peer: PeerId, multiaddrs: Multiaddr[], options?: AbortOptions): Promise<void>
}

/** Options of the retrieval engine. Every limit is listed in doc/LIMITS.md. */
export interface RetrievalInit {
  /** Chunks in flight and held ahead of the output (the reorder buffer). @default 64 */
  window?: number
  /** Providers a search for holders asks the DHT for. @default 8 */
  maxProviders?: number
  /** Peers one retrieval uses at most. @default 16 */
  maxPeers?: number
  /** Requests in flight to a peer at the start; grows by one per success. @default 4 */
  initialPeerWindow?: number
  /** Most requests in flight to one peer. @default 32 */
  maxPeerWindow?: number
  /**
   * Requests sent to a busy peer together: a peer with at least this many in
   * flight gets more only once it has room for this many, and they leave in
   * one message. 1 sends each request as soon as there is room. @default 4
   */
  requestBatch?: number
  /** How long to search for holders of a block before NotFoundError, in ms. @default 30000 */
  providerTimeoutMs?: number
  /** Longest deadline of one block request to one peer, in ms; used until the peer's latency is known. @default 20000 */
  blockTimeoutMs?: number
  /** Shortest deadline of one block request, in ms; a peer's deadline is 8x its average latency within these bounds. @default 5000 */
  minBlockTimeoutMs?: number
}

export type ResolvedRetrievalInit = Required<RetrievalInit>
export type { SessionStats } from './session.js'
export { collectionEntries, collectionEntry, holdingSize } from './collection.js'

/** Creates the retrieval engine. */
export function retrievalService (init: RetrievalInit = {}): (components: RetrievalComponents) => RetrievalService {
  const resolved: ResolvedRetrievalInit = {
    window: numberOption('window', init.window, c.DEFAULT_WINDOW),
    maxProviders: numberOption('maxProviders', init.maxProviders, c.DEFAULT_MAX_PROVIDERS),
    maxPeers: numberOption('maxPeers', init.maxPeers, c.DEFAULT_MAX_PEERS),
    initialPeerWindow: numberOption('initialPeerWindow', init.initialPeerWindow, c.DEFAULT_INITIAL_PEER_WINDOW),
    maxPeerWindow: numberOption('maxPeerWindow', init.maxPeerWindow, c.DEFAULT_MAX_PEER_WINDOW),
    requestBatch: numberOption('requestBatch', init.requestBatch, c.DEFAULT_REQUEST_BATCH),
    providerTimeoutMs: numberOption('providerTimeoutMs', init.providerTimeoutMs, c.DEFAULT_PROVIDER_TIMEOUT_MS),
    blockTimeoutMs: numberOption('blockTimeoutMs', init.blockTimeoutMs, c.DEFAULT_BLOCK_TIMEOUT_MS),
    minBlockTimeoutMs: numberOption('minBlockTimeoutMs', init.minBlockTimeoutMs, Math.min(c.DEFAULT_MIN_BLOCK_TIMEOUT_MS, init.blockTimeoutMs ?? c.DEFAULT_BLOCK_TIMEOUT_MS))
  }
  if (resolved.initialPeerWindow > resolved.maxPeerWindow) {
    throw new InvalidInputError('initialPeerWindow must not exceed maxPeerWindow')
  }
  return (components) => new Retriever(components, resolved)
}
