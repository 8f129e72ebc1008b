/**
 * What a node shares and what it knows of content: the types of `stat`,
 * `catalog` and `stats`, and the listing of this node's own catalog.
 *
 * @module
 */

import type { AbortOptions } from '@libp2p/interface'
import { cidToString, type CID } from './cid.js'
import { throwIfAborted } from './errors.js'
import { decodeManifest, descriptionOf } from './manifest/index.js'
import type { CatalogItem } from './network/index.js'
import type { ReplicationManager } from './replication/index.js'
import type { StorageProvider } from './storage/index.js'

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

/** Finished retrievals, by how they ended. */
export interface RetrievalOutcomes {
  ok: number
  notFound: number
  integrity: number
  aborted: number
  timeout: number
  error: number
}

/** Counters of a node since it started. */
export interface DdsStats {
  /** Blocks this node answered OK to peers' RetrieveChunk requests, and their bytes. */
  chunksServed: number
  bytesServed: number
  /** Verified chunks received from peers by retrievals (pins and replicas included), and their bytes. */
  chunksFetched: number
  bytesFetched: number
  /** `retrieve` calls that ended, by outcome. */
  retrievals: RetrievalOutcomes
  /** Provider records found by DHT lookups. */
  providersFound: number
  /** Peers connected now. */
  peers: number
}

/** Gathered entries `catalog` returns at most when given no `limit`. */
export const DEFAULT_CATALOG_LIMIT = 10_000

/** The public form of a catalog item. */
export function catalogEntry (item: CatalogItem): CatalogEntry {
  return {
    cid: cidToString(item.cid),
    size: item.size,
    ...descriptionOf(item)
  }
}

/**
 * Lists this node's own catalog: its complete local pins (content published
 * or pinned here, not replicas kept for others) with their descriptions, in
 * CID string order, from after `after`.
 */
export async function localCatalog (pins: Pick<ReplicationManager, 'listPins'>, storage: StorageProvider, after: string | undefined, limit: number, options: AbortOptions = {}): Promise<{ items: CatalogItem[], more: boolean }> {
  const items: CatalogItem[] = []
  for await (const pin of pins.listPins({ after })) {
    throwIfAborted(options.signal, 'listing the catalog')
    if (pin.kind !== 'local' || pin.state !== 'complete') {
      continue
    }
    const item = await describePinned(storage, pin.manifest, options)
    if (item == null) {
      continue
    }
    if (items.length === limit) {
      return { items, more: true }
    }
    items.push(item)
  }
  return { items, more: false }
}

async function describePinned (storage: StorageProvider, cid: CID, options: AbortOptions): Promise<CatalogItem | undefined> {
  const bytes = await storage.get(cid, options)
  if (bytes == null) {
    return undefined
  }
  try {
    const manifest = decodeManifest(bytes)
    return {
      cid,
      size: manifest.size,
      ...descriptionOf(manifest)
    }
  } catch {
    // a damaged manifest is not shared; gc and the replication manager deal with it
    return undefined
  }
}
