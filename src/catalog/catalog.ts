import type { PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { CID } from 'multiformats/cid'
import { cidToString, parseCid } from '../cid.js'
import { InvalidInputError, throwIfAborted } from '../errors.js'
import { chunkCount, contentBlocks, descriptionOf, isCollection, type Manifest } from '../manifest/index.js'
import type { CatalogItem } from '../network/index.js'
import { numberOption } from '../options.js'
import { DEFAULT_BROWSE_TIMEOUT_MS, DEFAULT_CATALOG_LIMIT, DEFAULT_CATALOG_PAGE_SIZE, MAX_CATALOG_PAGE_SIZE } from './constants.js'
import { localCatalog } from './local.js'
import type {
  BrowseOptions, Catalog, CatalogComponents, CatalogEntry, CatalogOptions, CatalogPage, CatalogPageOptions, ContentStat, PeerCatalog, StatOptions
} from './index.js'
import { collectionEntries } from '../retrieval/index.js'

/** The Catalog implementation; created through `catalog()`. */
export class DdsCatalog implements Catalog {
  private readonly components: CatalogComponents

  constructor (components: CatalogComponents) {
    this.components = components
  }

  async list (peer?: string | PeerId, options: CatalogOptions = {}): Promise<CatalogEntry[]> {
    const limit = numberOption('limit', options.limit, DEFAULT_CATALOG_LIMIT)
    const entries: CatalogEntry[] = []
    let after: string | undefined
    while (entries.length < limit) {
      const page = await this.page(peer, { after, limit: Math.min(limit - entries.length, MAX_CATALOG_PAGE_SIZE), signal: options.signal })
      entries.push(...page.entries)
      if (page.next == null || page.entries.length === 0) {
        break
      }
      after = page.next
    }
    return entries
  }

  async page (peer?: string | PeerId, options: CatalogPageOptions = {}): Promise<CatalogPage> {
    const limit = numberOption('limit', options.limit, DEFAULT_CATALOG_PAGE_SIZE, { max: MAX_CATALOG_PAGE_SIZE })
    const after = options.after != null ? parseCid(options.after) : undefined
    const target = peer != null ? toPeerId(peer) : undefined
    const page = target == null || target.equals(this.components.peerId)
      ? await localCatalog(this.components, after != null ? cidToString(after) : undefined, limit, options)
      : await this.components.network.catalog(target, { after, limit, signal: options.signal })
    const entries = page.items.map(catalogEntry)
    const last = entries.at(-1)
    return { entries, ...(page.more && last != null ? { next: last.cid } : {}) }
  }

  async browse (options: BrowseOptions = {}): Promise<PeerCatalog[]> {
    const timeoutMs = numberOption('timeoutMs', options.timeoutMs, DEFAULT_BROWSE_TIMEOUT_MS, { integer: false })
    return Promise.all(this.components.peers().map(async (peer): Promise<PeerCatalog> => {
      const signal = options.signal != null
        ? AbortSignal.any([options.signal, AbortSignal.timeout(timeoutMs)])
        : AbortSignal.timeout(timeoutMs)
      try {
        return { peer: peer.toString(), entries: await this.list(peer, { limit: options.limit, signal }) }
      } catch (err) {
        throwIfAborted(options.signal, 'browse')
        return { peer: peer.toString(), entries: [], error: err as Error }
      }
    }))
  }

  async stat (cid: CID, options: StatOptions = {}): Promise<ContentStat> {
    const resolved = await this.components.retrieval.resolveManifest(cid, { signal: options.signal })
    resolved.close()
    const { manifest } = resolved
    const pin = await this.components.pins.getPin(cid)
    const entries = isCollection(manifest) ? await collectionEntries(this.components.retrieval, cid, { signal: options.signal }) : undefined
    return {
      cid: cidToString(cid),
      size: manifest.size,
      chunks: chunkCount(manifest.size),
      ...descriptionOf(manifest),
      ...(options.checkLocal !== false ? { local: await this.holdsAll(cid, manifest, options) } : {}),
      ...(pin != null ? { pin: pin.kind } : {}),
      ...(entries != null ? { collection: { entries: entries.length, size: entries.reduce((sum, e) => sum + e.size, 0) } } : {})
    }
  }

  /** True when the manifest, every tree node and every chunk of the content are in the local store. */
  private async holdsAll (cid: CID, manifest: Manifest, options: StatOptions): Promise<boolean> {
    const { storage } = this.components
    // a missing tree node is listed itself (its chunks cannot be), and found missing below
    for await (const block of contentBlocks(cid, manifest, async (node) => storage.get(node, options), { missing: 'skip', signal: options.signal })) {
      if (!(await storage.has(block, options))) {
        return false
      }
    }
    return true
  }
}

/** The public form of a catalog item. */
function catalogEntry (item: CatalogItem): CatalogEntry {
  return { cid: cidToString(item.cid), size: item.size, ...descriptionOf(item) }
}

/** A peer id given as a string or a PeerId. */
export function toPeerId (peer: string | PeerId): PeerId {
  if (typeof peer !== 'string') {
    return peer
  }
  try {
    return peerIdFromString(peer)
  } catch (err) {
    throw new InvalidInputError(`${JSON.stringify(peer.slice(0, 100))} is not a peer id: ${(err as Error).message}`, { cause: err })
  }
}
