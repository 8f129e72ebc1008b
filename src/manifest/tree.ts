/**
 * Manifest trees: building them while content streams in, and finding
 * chunks in them.
 *
 * @module
 */

import { cidForBlock, type CID } from '../cid.js'
import { InvalidInputError } from '../errors.js'
import { encodeManifestNode } from './codec.js'
import { DEFAULT_CHUNKS_PER_BLOCK, MANIFEST_CHUNK_ENTRY_SIZE, MANIFEST_FIXED_SIZE, MAX_CHUNKS_PER_MANIFEST, MAX_MANIFEST_BLOCK_SIZE } from './constants.js'
import { checkDescription, descriptionSize, type ContentDescription } from './describe.js'
import { manifestBlock, type ManifestBlock } from './block.js'
import { chunkCount } from './layout.js'
import type { Manifest } from './manifest.js'

/** The number of chunks node `node` of a tree manifest lists. */
export function nodeChunkCount (manifest: Manifest, node: number): number {
  const per = manifest.chunksPerChild ?? 0
  const total = chunkCount(manifest.size)
  return Math.min(per, total - node * per)
}

/** Which node of a tree manifest lists chunk `index`, and where in it. */
export function nodeOf (manifest: Manifest, index: number): { node: number, position: number } {
  const per = manifest.chunksPerChild ?? 0
  return { node: Math.floor(index / per), position: index % per }
}

/**
 * Builds the manifest of content whose chunk CIDs arrive one at a time,
 * holding at most one block's worth of CIDs: content of up to
 * `chunksPerBlock` chunks (fewer when a long description shares the block)
 * gets a single-block manifest; larger content gets a tree whose node blocks
 * are handed out as they fill, to be stored. The description (name, media
 * type, metadata) goes on the root.
 */
export class ManifestBuilder {
  private readonly chunksPerBlock: number
  private readonly description: ContentDescription
  /** Chunks a single-block manifest can list beside the description. */
  private readonly rootCapacity: number
  private pending: CID[] = []
  private readonly nodes: CID[] = []

  /**
   * @param chunksPerBlock - chunks per manifest block (at most MAX_CHUNKS_PER_MANIFEST; smaller values make trees of smaller content, and change its CID)
   * @param description - name, media type and metadata for the root
   * @throws {InvalidInputError} for a bad `chunksPerBlock` or description
   */
  constructor (chunksPerBlock = DEFAULT_CHUNKS_PER_BLOCK, description: ContentDescription = {}) {
    if (!Number.isSafeInteger(chunksPerBlock) || chunksPerBlock < 1 || chunksPerBlock > MAX_CHUNKS_PER_MANIFEST) {
      throw new InvalidInputError(`chunksPerBlock must be an integer from 1 to ${MAX_CHUNKS_PER_MANIFEST}, got ${String(chunksPerBlock)}`)
    }
    this.chunksPerBlock = chunksPerBlock
    const checked = checkDescription(description)
    this.description = checked
    const room = Math.floor((MAX_MANIFEST_BLOCK_SIZE - MANIFEST_FIXED_SIZE - descriptionSize(checked)) / MANIFEST_CHUNK_ENTRY_SIZE)
    this.rootCapacity = Math.min(chunksPerBlock, room)
  }

  /** Adds the next chunk's CID; returns a completed node block to store, if this one completed one. */
  add (cid: CID): ManifestBlock | undefined {
    let node: ManifestBlock | undefined
    if (this.pending.length === this.chunksPerBlock) {
      node = this.flushNode()
    }
    this.pending.push(cid)
    return node
  }

  /** Ends the content; returns the last node block (for a tree) and the root manifest block. */
  finish (sha256: Uint8Array, size: number): { node?: ManifestBlock, root: ManifestBlock, manifest: Manifest } {
    if (this.nodes.length === 0 && this.pending.length <= this.rootCapacity) {
      const manifest: Manifest = { chunkCids: this.pending, sha256, size, ...this.description }
      return { root: manifestBlock(manifest), manifest }
    }
    const node = this.pending.length > 0 ? this.flushNode() : undefined
    const manifest: Manifest = { chunkCids: [], sha256, size, children: this.nodes, chunksPerChild: this.chunksPerBlock, ...this.description }
    return { ...(node != null ? { node } : {}), root: manifestBlock(manifest), manifest }
  }

  private flushNode (): ManifestBlock {
    const bytes = encodeManifestNode(this.pending)
    const cid = cidForBlock(bytes)
    this.nodes.push(cid)
    this.pending = []
    return { cid, bytes }
  }
}

/**
 * Yields every chunk CID of a manifest in content order, loading the node
 * blocks of a tree one at a time through `loadNode` (which must return the
 * node's verified, decoded CID list).
 */
export async function * chunkCidsOf (manifest: Manifest, loadNode: (cid: CID, node: number, expected: number) => Promise<CID[]>): AsyncGenerator<CID> {
  if (manifest.children == null) {
    yield * manifest.chunkCids
    return
  }
  for (let node = 0; node < manifest.children.length; node++) {
    yield * await loadNode(manifest.children[node]!, node, nodeChunkCount(manifest, node))
  }
}
