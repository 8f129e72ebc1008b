/** Content written straight into a store, as publishing writes it, for tests of what reads it back. */
import type { CID } from 'multiformats/cid'
import { chunkContent, ContentHasher, ManifestBuilder, type ContentDescription, type Manifest, type StorageProvider } from '../../src/index.js'

export interface StoredContent {
  cid: CID
  manifest: Manifest
  /** Chunk CIDs in content order. */
  chunks: CID[]
  /** CIDs of the manifest tree's nodes (empty for a single-block manifest). */
  nodes: CID[]
}

/** Chunks `bytes`, stores every chunk, tree node and the manifest (described by `description`) in `storage`, and says what it stored. */
export async function storeContent (storage: StorageProvider, bytes: Uint8Array, chunksPerBlock?: number, description?: ContentDescription): Promise<StoredContent> {
  const hasher = new ContentHasher()
  const builder = new ManifestBuilder(chunksPerBlock, description)
  const chunks: CID[] = []
  const nodes: CID[] = []
  for await (const chunk of chunkContent(bytes)) {
    hasher.update(chunk.bytes)
    chunks.push(chunk.cid)
    await storage.put(chunk.cid, chunk.bytes)
    const node = builder.add(chunk.cid)
    if (node != null) {
      nodes.push(node.cid)
      await storage.put(node.cid, node.bytes)
    }
  }
  const { node, root, manifest } = builder.finish(hasher.digest(), hasher.size)
  if (node != null) {
    nodes.push(node.cid)
    await storage.put(node.cid, node.bytes)
  }
  await storage.put(root.cid, root.bytes)
  return { cid: root.cid, manifest, chunks, nodes }
}
