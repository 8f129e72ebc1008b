/**
 * Where each chunk sits in the content.
 *
 * @module
 */

import { CHUNK_SIZE } from '../cid.js'
import { InvalidInputError } from '../errors.js'

/** The byte range of one chunk in the content. */
export interface ChunkSpan {
  /** Offset of the chunk's first byte in the content. */
  offset: number
  /** Number of bytes in the chunk: `CHUNK_SIZE`, or fewer for the last chunk. */
  length: number
}

/**
 * Number of chunks of content of `size` bytes: `Math.ceil(size / CHUNK_SIZE)`
 * (0 for empty content).
 *
 * @throws {InvalidInputError} when `size` is not a safe non-negative integer
 */
export function chunkCount (size: number): number {
  checkSize(size)
  return Math.ceil(size / CHUNK_SIZE)
}

/**
 * The byte range of chunk `index` in content of `size` bytes.
 *
 * @throws {InvalidInputError} when `size` is not a safe non-negative integer,
 * or `index` is not an integer in `[0, chunkCount(size))`
 */
export function chunkSpan (size: number, index: number): ChunkSpan {
  const count = chunkCount(size)
  if (!Number.isInteger(index) || index < 0 || index >= count) {
    throw new InvalidInputError(`chunk index ${String(index)} is out of range: content of ${size} bytes has ${count} chunk(s)`)
  }
  const offset = index * CHUNK_SIZE
  return { offset, length: Math.min(CHUNK_SIZE, size - offset) }
}

/** @throws {InvalidInputError} when `size` is not a safe non-negative integer */
export function checkSize (size: unknown, what = 'content size'): asserts size is number {
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw new InvalidInputError(`${what} must be a non-negative safe integer, got ${String(size)}`)
  }
}
