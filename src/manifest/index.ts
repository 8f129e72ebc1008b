/**
 * Manifests: the record that names a whole piece of content. A manifest lists
 * the CIDs of the content's chunks, its SHA-256 and its size; its canonical
 * protobuf encoding (`ContentManifest` in `protos/dds_messages.proto`) is a
 * block like any chunk, and that block's CID is the content's CID.
 *
 * ```ts
 * const manifest = createManifest({ chunkCids, sha256: hasher.digest(), size: hasher.size })
 * const { cid, bytes } = manifestBlock(manifest)
 * // ...later, with bytes from a peer:
 * const checked = verifyManifestBlock(cid, received)
 * ```
 *
 * One manifest block holds at most `MAX_MANIFEST_BLOCK_SIZE` bytes, which
 * describes content of up to `MAX_CONTENT_SIZE` bytes (~6.7 GiB). Larger
 * content gets a two-level tree: the root keeps the size and SHA-256 and
 * lists `ManifestNode` blocks, each listing up to `MAX_CHUNKS_PER_MANIFEST`
 * chunks (`ManifestBuilder` builds either form as chunks stream in).
 *
 * @module
 */

export {
  MAX_MANIFEST_BLOCK_SIZE,
  MAX_CONTENT_SIZE,
  MAX_CHUNKS_PER_MANIFEST,
  MANIFEST_CHUNK_ENTRY_SIZE,
  MANIFEST_FIXED_SIZE,
  MAX_CHUNKS_PER_NODE,
  MAX_CHILDREN,
  DEFAULT_CHUNKS_PER_BLOCK,
  MAX_COLLECTION_ENTRIES,
  MAX_COLLECTION_BYTES,
  MAX_PATH_BYTES
} from './constants.js'
export { createManifest, type Manifest, type ManifestInit } from './manifest.js'
export { encodeManifest, decodeManifest, isManifestBlock, encodeManifestNode, decodeManifestNode, type DecodeManifestOptions } from './codec.js'
export { ManifestBuilder, chunkCidsOf, nodeOf, nodeChunkCount } from './tree.js'
export { manifestBlock, verifyManifestBlock, type ManifestBlock } from './block.js'
export { chunkCount, chunkSpan, type ChunkSpan } from './layout.js'
export { contentBlocks, storedEntries, type ContentBlocksOptions, type ReadBlock } from './blocks.js'
export { COLLECTION_MEDIA_TYPE, isCollection, checkPath, checkEntries, encodeCollection, decodeCollection, type CollectionEntry } from './collection.js'
export {
  checkDescription, descriptionOf, metadataEntries, metadataFromEntries, MAX_NAME_BYTES, MAX_MEDIA_TYPE_LENGTH, MAX_METADATA_ENTRIES,
  MAX_METADATA_KEY_LENGTH, MAX_METADATA_VALUE_BYTES, MAX_DESCRIPTION_BYTES,
  type ContentDescription, type CheckedDescription
} from './describe.js'
