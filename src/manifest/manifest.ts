/**
 * The manifest: what names a whole piece of content.
 *
 * @module
 */

import { parseCid, SHA2_256_LENGTH, type CID } from '../cid.js'
import { InvalidInputError } from '../errors.js'
import { checkSize, chunkCount } from './layout.js'
import { MAX_CHILDREN, MAX_CHUNKS_PER_NODE } from './constants.js'
import { checkDescription, type ContentDescription } from './describe.js'

/**
 * The decoded form of a `ContentManifest`: the CIDs of the content's chunks
 * in order, the SHA-256 of the whole content and its size. Build one with
 * {@link createManifest}, which validates it.
 */
export interface Manifest extends ContentDescription {
  /**
   * CIDs of the chunks (CIDv1, raw, sha2-256), in content order;
   * `chunkCount(size)` of them. Empty for a tree manifest, whose chunks are
   * listed by its `children`.
   */
  chunkCids: CID[]
  /** The 32-byte SHA-256 of the whole content. */
  sha256: Uint8Array
  /** Size of the content in bytes. */
  size: number
  /** Tree manifests only: the CIDs of the `ManifestNode` blocks listing the chunks, in content order. */
  children?: CID[]
  /** Tree manifests only: chunks listed by every node but the last (which lists the rest). */
  chunksPerChild?: number
}

/** What {@link createManifest} takes: the same fields as {@link Manifest}. */
export interface ManifestInit extends ContentDescription {
  /** CIDs of the chunks, in content order (empty for a tree manifest). */
  chunkCids: CID[]
  /** The 32-byte SHA-256 of the whole content. */
  sha256: Uint8Array
  /** Size of the content in bytes. */
  size: number
  /** Tree manifests: CIDs of the node blocks, in content order. */
  children?: CID[]
  /** Tree manifests: chunks per node (every node but the last). */
  chunksPerChild?: number
}

/**
 * Checks the fields of a manifest and returns a manifest that owns copies of
 * them (a new array and a new digest buffer), so later changes to `init` do
 * not reach it.
 *
 * @throws {InvalidInputError} when `sha256` is not 32 bytes, `size` is not a
 * safe non-negative integer, the number of chunk CIDs is not
 * `Math.ceil(size / CHUNK_SIZE)`, a chunk CID is not a DDS CID, or the
 * description (name, media type, metadata) is invalid (see `checkDescription`)
 */
export function createManifest (init: ManifestInit): Manifest {
  if (init == null || typeof init !== 'object') {
    throw new InvalidInputError('a manifest needs { chunkCids, sha256, size }')
  }
  const { chunkCids, sha256, size } = init
  if (!(sha256 instanceof Uint8Array) || sha256.byteLength !== SHA2_256_LENGTH) {
    const got = sha256 instanceof Uint8Array ? `${sha256.byteLength} bytes` : typeof sha256
    throw new InvalidInputError(`manifest sha256 must be the ${SHA2_256_LENGTH}-byte SHA-256 of the content, got ${got}`)
  }
  checkSize(size, 'manifest size')
  if (!Array.isArray(chunkCids)) {
    throw new InvalidInputError('manifest chunkCids must be an array of CIDs')
  }
  const expected = chunkCount(size)
  const description = describe(init)
  if (init.children != null || init.chunksPerChild != null) {
    return { ...createTreeManifest(init, expected), ...description }
  }
  if (chunkCids.length !== expected) {
    throw new InvalidInputError(`manifest lists ${chunkCids.length} chunk CID(s), but content of ${size} bytes has ${expected} chunk(s)`)
  }
  return {
    chunkCids: chunkCids.map(checkChunkCid),
    sha256: new Uint8Array(sha256),
    size,
    ...description
  }
}

/** The checked description of a manifest, with only the fields it has (no empty metadata). */
function describe (init: ContentDescription): ContentDescription {
  const checked = checkDescription({ name: init.name, mediaType: init.mediaType, metadata: init.metadata })
  return {
    ...(checked.name != null ? { name: checked.name } : {}),
    ...(checked.mediaType != null ? { mediaType: checked.mediaType } : {}),
    ...(Object.keys(checked.metadata).length > 0 ? { metadata: checked.metadata } : {})
  }
}

function createTreeManifest (init: ManifestInit, chunks: number): Manifest {
  const { children, chunksPerChild } = init
  if (!Array.isArray(children) || children.length === 0) {
    throw new InvalidInputError('a tree manifest needs the CIDs of its node blocks (children)')
  }
  if (init.chunkCids.length !== 0) {
    throw new InvalidInputError('a tree manifest lists its chunks in its nodes, not in chunkCids')
  }
  if (chunksPerChild == null || !Number.isSafeInteger(chunksPerChild) || chunksPerChild < 1 || chunksPerChild > MAX_CHUNKS_PER_NODE) {
    throw new InvalidInputError(`chunksPerChild must be an integer from 1 to ${MAX_CHUNKS_PER_NODE}, got ${String(chunksPerChild)}`)
  }
  const expected = Math.ceil(chunks / chunksPerChild)
  if (children.length !== expected) {
    throw new InvalidInputError(`a tree manifest of ${chunks} chunk(s) with ${chunksPerChild} per node has ${expected} node(s), not ${children.length}`)
  }
  if (children.length > MAX_CHILDREN) {
    throw new InvalidInputError(`a tree manifest lists at most ${MAX_CHILDREN} nodes`)
  }
  return {
    chunkCids: [],
    sha256: new Uint8Array(init.sha256),
    size: init.size,
    children: children.map((cid, i) => checkCid(cid, `manifest node CID ${i}`)),
    chunksPerChild
  }
}

function checkCid (cid: CID, what: string): CID {
  try {
    return parseCid(cid)
  } catch (err) {
    throw new InvalidInputError(`${what} is not a DDS CID: ${(err as Error).message}`, { cause: err })
  }
}

function checkChunkCid (cid: CID, index: number): CID {
  try {
    return parseCid(cid)
  } catch (err) {
    throw new InvalidInputError(`manifest chunk CID ${index} is not a DDS CID: ${(err as Error).message}`, { cause: err })
  }
}
