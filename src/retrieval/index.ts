/**
 * The fetch engine: finds who holds content, fetches its manifest and chunks
 * from them, verifies every block and yields the content in order.
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
import { Retriever } from './retriever.js'
import * as c from './constants.js'

export type RetrieveProgressEvents =
  | ProgressEvent<'dds:retrieve:providers', { cid: CID, providers: number }>
  | ProgressEvent<'dds:retrieve:manifest', { cid: CID, size: number, chunks: number, from: 'local' | string }>
  | ProgressEvent<'dds:retrieve:chunk', { index: number, chunks: number, bytes: number, from: 'local' | string }>
  | ProgressEvent<'dds:retrieve:provider-failed', { peer: string, cid: CID, error: Error }>

/** Options of one retrieval. */
export interface RetrieveOptions extends AbortOptions, ProgressOptions<RetrieveProgressEvents> {}

/** A manifest and the peers it was found on. */
export interface ResolvedManifest {
  cid: CID
  manifest: Manifest
  /** Peers known to hold the manifest (empty when it was local). */
  providers: PeerId[]
}

/** What the retrieval engine does. */
export interface RetrievalService {
  /** Fetches (or reads locally) and verifies the manifest named by `cid`. */
  resolveManifest(cid: CID, options?: RetrieveOptions): Promise<ResolvedManifest>
  /** Yields the verified content of a resolved manifest, in order. */
  content(resolved: ResolvedManifest, options?: RetrieveOptions): AsyncGenerator<Uint8Array>
}

/** What the retrieval engine needs from the node. */
export interface RetrievalComponents {
  network: Pick<NetworkService, 'retrieveBlock' | 'isBanned'>
  discovery: Discovery
  storage: StorageProvider
  /** Peers this node is connected to; asked when the DHT names no holder of a block. */
  connectedPeers?(): PeerId[]
  /** Remembers the addresses of a provider so the network can dial it. */
  addPeerAddresses?(peer: PeerId, multiaddrs: Multiaddr[]): Promise<void>
}

/** Options of the retrieval engine. Every limit is listed in doc/LIMITS.md. */
export interface RetrievalInit {
  /** Chunks in flight and held ahead of the output. @default 16 */
  window?: number
  /** Providers of the manifest to look for. @default 8 */
  maxProviders?: number
  /** How long to search for holders of a block before NotFoundError, in ms. @default 30000 */
  providerTimeoutMs?: number
  /** Deadline of one block request to one peer, in ms. @default 20000 */
  blockTimeoutMs?: number
}

export type ResolvedRetrievalInit = Required<RetrievalInit>

function positiveInt (name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback
  if (!Number.isSafeInteger(v) || v <= 0) {
    throw new InvalidInputError(`${name} must be a positive integer, got ${String(value)}`)
  }
  return v
}

/** Creates the retrieval engine. */
export function retrievalService (init: RetrievalInit = {}): (components: RetrievalComponents) => RetrievalService {
  const resolved: ResolvedRetrievalInit = {
    window: positiveInt('window', init.window, c.DEFAULT_WINDOW),
    maxProviders: positiveInt('maxProviders', init.maxProviders, c.DEFAULT_MAX_PROVIDERS),
    providerTimeoutMs: positiveInt('providerTimeoutMs', init.providerTimeoutMs, c.DEFAULT_PROVIDER_TIMEOUT_MS),
    blockTimeoutMs: positiveInt('blockTimeoutMs', init.blockTimeoutMs, c.DEFAULT_BLOCK_TIMEOUT_MS)
  }
  return (components) => new Retriever(components, resolved)
}
