/**
 * The chunker: content in, fixed-size chunks named by their CIDs out, plus
 * the whole-content SHA-256 a manifest records.
 *
 * ```ts
 * const hasher = new ContentHasher()
 * for await (const chunk of chunkContent(file, { signal })) {
 *   hasher.update(chunk.bytes)
 *   await store.put(chunk.cid, chunk.bytes)
 * }
 * ```
 *
 * @module
 */

export { CHUNK_SIZE } from './constants.js'
export { toAsyncIterable, type ContentInput } from './input.js'
export { chunkContent, type Chunk, type ChunkContentOptions } from './chunker.js'
export { ContentHasher } from './hasher.js'
