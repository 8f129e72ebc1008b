import type { AbortOptions } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import { throwIfAborted } from '../errors.js'
import { decodeManifest, descriptionOf } from '../manifest/index.js'
import type { CatalogItem } from '../network/index.js'
import type { CatalogComponents } from './index.js'

/**
 * Lists this node's own catalog: its complete local pins (content published
 * or pinned here, not replicas kept for others) with their descriptions, in
 * CID string order, from after `after`.
 */
export async function localCatalog (components: Pick<CatalogComponents, 'pins' | 'storage'>, after: string | undefined, limit: number, options: AbortOptions = {}): Promise<{ items: CatalogItem[], more: boolean }> {
  const items: CatalogItem[] = []
  for await (const pin of components.pins.listPins({ after })) {
    throwIfAborted(options.signal, 'listing the catalog')
    if (pin.kind !== 'local' || pin.state !== 'complete') {
      continue
    }
    const item = await describePinned(components.storage, pin.manifest, options)
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

async function describePinned (storage: CatalogComponents['storage'], cid: CID, options: AbortOptions): Promise<CatalogItem | undefined> {
  const bytes = await storage.get(cid, options)
  if (bytes == null) {
    return undefined
  }
  try {
    const manifest = decodeManifest(bytes)
    return { cid, size: manifest.size, ...descriptionOf(manifest) }
  } catch {
    // a damaged manifest is not shared; gc and the replication manager deal with it
    return undefined
  }
}
