/**
 * The manifest: what names a whole piece of content.
 *
 * @module
 */

import { parseCid, SHA2_256_LENGTH, type CID } from '../cid.js'
import { InvalidInputError } from '../errors.js'
import { checkSize, chunkCount } from './layout.js'

/**
 * The decoded form of a `ContentManifest`: the CIDs of the content's chunks
 * in order, the SHA-256 of the whole content and its size. Build one with
 * {@link createManifest}, which validates it.
 */
export interface Manifest {
  /** CIDs of the chunks (CIDv1, raw, sha2-256), in content order; `chunkCount(size)` of them. */
  chunkCids: CID[]
  /** The 32-byte SHA-256 of the whole content. */
  sha256: Uint8Array
  /** Size of the content in bytes. */
  size: number
}

/** What {@link createManifest} takes: the same fields as {@link Manifest}. */
export interface ManifestInit {
  /** CIDs of the chunks, in content order. */
  chunkCids: CID[]
  /** The 32-byte SHA-256 of the whole content. */
  sha256: Uint8Array
  /** Size of the content in bytes. */
  size: number
}

/**
 * Checks the fields of a manifest and returns a manifest that owns copies of
 * them (a new array and a new digest buffer), so later changes to `init` do
 * not reach it.
 *
 * @throws {InvalidInputError} when `sha256` is not 32 bytes, `size` is not a
 * safe non-negative integer, the number of chunk CIDs is not
 * `Math.ceil(size / CHUNK_SIZE)`, or a chunk CID is not a DDS CID
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
  if (chunkCids.length !== expected) {
    throw new InvalidInputError(`manifest lists ${chunkCids.length} chunk CID(s), but content of ${size} bytes has ${expected} chunk(s)`)
  }
  return {
    chunkCids: chunkCids.map(checkChunkCid),
    sha256: new Uint8Array(sha256),
    size
  }
}

function checkChunkCid (cid: CID, index: number): CID {
  try {
    return parseCid(cid)
  } catch (err) {
    throw new InvalidInputError(`manifest chunk CID ${index} is not a DDS CID: ${(err as Error).message}`, { cause: err })
  }
}
