import type { AbortOptions } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import { cidToString } from '../cid.js'
import { StorageError } from '../errors.js'
import { decodeManifestNode } from './codec.js'
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
 */
export async function * contentBlocks (cid: CID, manifest: Manifest, read: ReadBlock, options: ContentBlocksOptions = {}): AsyncGenerator<CID> {
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
