/**
 * Catalog entries on the wire: what a node shares, with the description of
 * each piece of content, encoded for a CatalogResponse and checked when one
 * arrives from a peer.
 *
 * @module
 */

import { parseCid, type CID } from '../cid.js'
import { checkDescription, metadataEntries, metadataFromEntries } from '../manifest/index.js'
import { pb, uint64ToNumber } from '../pb/index.js'
import type { dds } from '../pb/generated/dds_messages.js'

/** One piece of content in a catalog: its manifest CID, size and description. */
export interface CatalogItem {
  cid: CID
  size: number
  name?: string
  mediaType?: string
  metadata: Record<string, string>
}

type EntryProps = dds.v1.CatalogEntry.$Properties

/**
 * Bytes an entry adds to a CatalogResponse beyond its own encoding: its field
 * tag (1) and length prefix (at most 3 for an entry under 2 MiB).
 */
const ENTRY_FRAMING_BYTES = 4

/** The protobuf form of an item and its encoded size. */
export function encodeCatalogEntry (item: CatalogItem): { props: EntryProps, size: number } {
  const props: EntryProps = {
    cid: item.cid.bytes,
    size: item.size,
    name: item.name ?? '',
    mediaType: item.mediaType ?? '',
    metadata: metadataEntries(item.metadata)
  }
  const length = pb.CatalogEntry.encode(props).len
  return { props, size: length + ENTRY_FRAMING_BYTES }
}

/**
 * Checks one entry a peer sent: a DDS CID, a safe size, a valid description
 * (the same bounds as a manifest's).
 *
 * @throws {InvalidInputError} naming what is wrong
 */
export function decodeCatalogEntry (entry: EntryProps): CatalogItem {
  const cid = parseCid(entry.cid ?? new Uint8Array(0))
  const size = uint64ToNumber(entry.size as number | null | undefined, 'catalog entry size')
  const description = checkDescription({
    name: entry.name ?? undefined,
    mediaType: entry.mediaType ?? undefined,
    metadata: metadataFromEntries(entry.metadata ?? [])
  })
  return { cid, size, ...description }
}
