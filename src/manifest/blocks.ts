import type { AbortOptions } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import { cidToString } from '../cid.js'
import { InvalidInputError, StorageError } from '../errors.js'
import { decodeManifest, decodeManifestNode } from './codec.js'
import { decodeCollection, isCollection, type CollectionEntry } from './collection.js'
import { MAX_COLLECTION_BYTES } from './constants.js'
import type { Manifest } from './manifest.js'
import { chunkCidsOf } from './tree.js'

/** Reads a block from a store; `undefined` when it is not there. */
export type ReadBlock = (cid: CID, options?: AbortOptions) => Promise<Uint8Array | undefined>

/** Options of {@link contentBlocks}. */
export interface ContentBlocksOptions extends AbortOptions {
  /**
   * What a tree node missing from the store means: `'throw'` (a
   * `StorageError`: the content was expected to be whole) or `'skip'` (its
   * chunks are not listed; the node's own CID still is, so a caller that
   * checks each block finds it missing).
   *
   * @default 'throw'
   */
  missing?: 'throw' | 'skip'
}

/**
 * Every block of stored content, each once: its chunks in content order, then
 * the nodes of its manifest tree (large content only), then the manifest
 * itself. Tree nodes are read from the store as the walk reaches them, so at
 * most one node's chunk list is held at a time. The one walk behind
 * publishing's seeding and announcing, `has`/`stat`'s "held here" check and
 * garbage collection.
 *
 * A collection's walk starts with the blocks of each of its entries (each
 * entry's content once, however many paths name it), so that whatever
 * holds, pins, seeds or collects a collection does so with its entries as one
 * unit. Its entry list is read from the store; a collection whose list is not
 * all there (a fetch under way) walks as its own blocks only, and entries of
 * entries are not followed.
 */
export async function * contentBlocks (cid: CID, manifest: Manifest, read: ReadBlock, options: ContentBlocksOptions = {}): AsyncGenerator<CID> {
  if (isCollection(manifest)) {
    const entries = await storedEntries(cid, manifest, read, options)
    const seen = new Set<string>()
    for (const entry of entries ?? []) {
      const key = entry.cid.toString()
      if (seen.has(key)) {
        continue
      }
      seen.add(key)
      const bytes = await read(entry.cid, options)
      if (bytes == null) {
        if (options.missing === 'skip') {
          yield entry.cid
          continue
        }
        throw new StorageError(`entry ${entry.path} (${cidToString(entry.cid)}) of ${cidToString(cid)} is missing from the local store`)
      }
      yield * ownBlocks(entry.cid, decodeManifest(bytes), read, options)
    }
  }
  yield * ownBlocks(cid, manifest, read, options)
}

async function * ownBlocks (cid: CID, manifest: Manifest, read: ReadBlock, options: ContentBlocksOptions): AsyncGenerator<CID> {
  yield * chunkCidsOf(manifest, async (node, _index, expected) => {
    const bytes = await read(node, options)
    if (bytes != null) {
      return decodeManifestNode(bytes, expected)
    }
    if (options.missing === 'skip') {
      return []
    }
    throw new StorageError(`manifest node ${cidToString(node)} of ${cidToString(cid)} is missing from the local store`)
  })
  yield * manifest.children ?? []
  yield cid
}

/**
 * A collection's entries, read from the store: undefined when a block of its
 * list is missing, or when its bytes are no valid list (content that only
 * carries the collection media type walks as a plain file).
 */
export async function storedEntries (cid: CID, manifest: Manifest, read: ReadBlock, options: AbortOptions = {}): Promise<CollectionEntry[] | undefined> {
  if (manifest.size > MAX_COLLECTION_BYTES) {
    return undefined
  }
  const bytes = new Uint8Array(manifest.size)
  let offset = 0
  try {
    for await (const chunk of chunkCidsOf(manifest, async (node, _index, expected) => {
      const block = await read(node, options)
      if (block == null) {
        throw new StorageError(`manifest node ${cidToString(node)} of ${cidToString(cid)} is missing`)
      }
      return decodeManifestNode(block, expected)
    })) {
      const piece = await read(chunk, options)
      if (piece == null || offset + piece.byteLength > bytes.byteLength) {
        return undefined
      }
      bytes.set(piece, offset)
      offset += piece.byteLength
    }
    return offset === bytes.byteLength ? decodeCollection(bytes) : undefined
  } catch (err) {
    if (err instanceof StorageError || err instanceof InvalidInputError) {
      return undefined
    }
    throw err
  }
}
