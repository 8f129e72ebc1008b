import type { CID } from 'multiformats/cid'
import { chunkCount, nodeOf, type Manifest } from '../manifest/index.js'
import { TREE_NODES_KEPT } from './constants.js'

/** The chunk CIDs of one content, read on demand (a manifest tree loads its nodes lazily). */
export interface ChunkList {
  readonly count: number
  cidAt(index: number, signal: AbortSignal): Promise<CID>
}

/** Reads (or fetches) node `node` of a manifest tree and returns the chunk CIDs it lists. */
export type NodeReader = (node: number, signal: AbortSignal) => Promise<CID[]>

/** The chunk list of a single-block manifest, which lists every chunk CID itself. */
export function flatChunkList (manifest: Manifest): ChunkList {
  return {
    count: manifest.chunkCids.length,
    cidAt: async (index) => manifest.chunkCids[index]!
  }
}

/**
 * The chunk list of a tree manifest: a node is read when a chunk it lists is
 * first needed, and only the most recent TREE_NODES_KEPT nodes are kept, so
 * memory stays bounded whatever the content size. A node that failed to load
 * is forgotten, so the next chunk it lists tries again.
 */
export function treeChunkList (manifest: Manifest, readNode: NodeReader): ChunkList {
  const nodes = new Map<number, Promise<CID[]>>()
  return {
    count: chunkCount(manifest.size),
    cidAt: async (index, signal) => {
      const { node, position } = nodeOf(manifest, index)
      let entry = nodes.get(node)
      if (entry == null) {
        entry = readNode(node, signal)
        entry.catch(() => { nodes.delete(node) })
        nodes.set(node, entry)
        for (const key of nodes.keys()) {
          if (key <= node - TREE_NODES_KEPT) {
            nodes.delete(key)
          }
        }
      }
      return (await entry)[position]!
    }
  }
}
