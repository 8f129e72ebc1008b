/**
 * What a node shares and what it knows of content: its own catalog (the
 * content it published or pinned, with descriptions), the catalogs of its
 * peers page by page, and `stat`, what content is, read from its manifest.
 *
 * @module
 */

import type { AbortOptions, PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import type { NetworkService } from '../network/index.js'
import type { ReplicationManager } from '../replication/index.js'
import type { RetrievalService } from '../retrieval/index.js'
import type { StorageProvider } from '../storage/index.js'
import { DdsCatalog } from './catalog.js'

export { localCatalog } from './local.js'
export { DEFAULT_CATALOG_LIMIT, DEFAULT_BROWSE_TIMEOUT_MS, DEFAULT_CATALOG_PAGE_SIZE, MAX_CATALOG_PAGE_SIZE } from './constants.js'

/** What `stat` tells about content, read from its manifest alone. */
export interface ContentStat {
  /** The manifest CID, base58btc. */
  cid: string
  /** Content size in bytes. */
  size: number
  /** Number of 256 KiB chunks. */
  chunks: number
  name?: string
  mediaType?: string
  /** String key/value pairs (title, artist ...); empty when the publisher gave none. */
  metadata: Record<string, string>
  /** True when every block of the content (manifest, tree nodes, chunks) is in this node's store; absent with `checkLocal: false`. */
  local?: boolean
  /** How this node holds it, when pinned: published or pinned here (`local`), or kept for a peer (`replica`). */
  pin?: 'local' | 'replica'
  /** A collection (a folder, an album): its number of entries and their total size in bytes. */
  collection?: { entries: number, size: number }
}

/** Options of `stat`. */
export interface StatOptions extends AbortOptions {
  /**
   * Find out whether every block is in the local store (one store read per
   * block). @default true
   */
  checkLocal?: boolean
}

/** One piece of content a node shares. */
export interface CatalogEntry {
  /** The manifest CID, base58btc. */
  cid: string
  size: number
  name?: string
  mediaType?: string
  metadata: Record<string, string>
}

/** One page of a catalog. */
export interface CatalogPage {
  entries: CatalogEntry[]
  /** Pass as `after` to get the next page; absent on the last page. */
  next?: string
}

/** The catalog of one peer, as `browse` gathers it. */
export interface PeerCatalog {
  /** The peer id. */
  peer: string
  entries: CatalogEntry[]
  /** Why the catalog could not be listed (whole or in part: `entries` holds what arrived). */
  error?: Error
}

/** Options of `catalog`. */
export interface CatalogOptions extends AbortOptions {
  /**
   * Most entries to gather (pages are fetched until the catalog ends or this
   * many entries arrived).
   *
   * @default 10000
   */
  limit?: number
}

/** Options of `catalogPage`. */
export interface CatalogPageOptions extends AbortOptions {
  /** The `next` of the previous page. */
  after?: string
  /** Entries wanted, 1 to 500. @default 100 */
  limit?: number
}

/** Options of `browse`. */
export interface BrowseOptions extends CatalogOptions {
  /** How long to wait for each peer's catalog, in ms. @default 10000 */
  timeoutMs?: number
}

/** What the catalog needs from the node. */
export interface CatalogComponents {
  peerId: PeerId
  storage: Pick<StorageProvider, 'get' | 'has'>
  /** Pins say what this node shares (its local ones) and how it holds content. */
  pins: Pick<ReplicationManager, 'listPins' | 'getPin'>
  /** Asks peers for their catalog pages. */
  network: Pick<NetworkService, 'catalog'>
  /** Fetches a manifest for `stat` when it is not held here. */
  retrieval: Pick<RetrievalService, 'resolveManifest' | 'content'>
  /** The peers `browse` asks. */
  peers(): PeerId[]
}

/** Lists catalogs and describes content. */
export interface Catalog {
  /** Gathers a catalog page by page (see `Dds.catalog`). */
  list(peer?: string | PeerId, options?: CatalogOptions): Promise<CatalogEntry[]>
  /** One page of a catalog (see `Dds.catalogPage`). */
  page(peer?: string | PeerId, options?: CatalogPageOptions): Promise<CatalogPage>
  /** The catalogs of every connected peer (see `Dds.browse`). */
  browse(options?: BrowseOptions): Promise<PeerCatalog[]>
  /** What content is, from its manifest (see `Dds.stat`). */
  stat(cid: CID, options?: StatOptions): Promise<ContentStat>
}

/** Creates the catalog. */
export function catalog (components: CatalogComponents): Catalog {
  return new DdsCatalog(components)
}
