/**
 * Incremental SHA-256 of a whole piece of content.
 *
 * @module
 */

import { createHash, type Hash } from 'node:crypto'
import { InvalidInputError } from '../errors.js'

/**
 * Hashes content slice by slice and counts its bytes, giving the
 * `original_content_sha256` and `original_content_size_bytes` of its manifest.
 *
 * @example
 * ```ts
 * const hasher = new ContentHasher()
 * for await (const chunk of chunkContent(input)) {
 *   hasher.update(chunk.bytes)
 * }
 * const sha256 = hasher.digest() // 32 bytes
 * ```
 */
export class ContentHasher {
  private readonly hash: Hash = createHash('sha256')
  private bytes = 0
  private result: Uint8Array | undefined

  /**
   * Adds the next slice of content.
   *
   * @throws {InvalidInputError} when `bytes` is not a Uint8Array, or after `digest()`
   */
  update (bytes: Uint8Array): void {
    if (!(bytes instanceof Uint8Array)) {
      throw new InvalidInputError('ContentHasher.update expects a Uint8Array')
    }
    if (this.result != null) {
      throw new InvalidInputError('ContentHasher.update was called after digest(): use a new ContentHasher for new content')
    }
    this.hash.update(bytes)
    this.bytes += bytes.byteLength
  }

  /** Number of bytes hashed so far. */
  get size (): number {
    return this.bytes
  }

  /**
   * The 32-byte SHA-256 of everything passed to `update`. Ends the hashing:
   * later calls return the same digest (a fresh copy each time).
   */
  digest (): Uint8Array {
    this.result ??= new Uint8Array(this.hash.digest())
    return this.result.slice()
  }
}
