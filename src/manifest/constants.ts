import { CHUNK_SIZE } from '../cid.js'
import { CID_BYTE_LENGTH, SHA2_256_LENGTH } from '../cid.js'
import { MAX_DESCRIPTION_BYTES } from './describe.js'

/**
 * The largest encoded manifest block, in bytes, that a node creates or
 * accepts (1 MiB). It bounds the memory a manifest from a peer can take and
 * the content one manifest block can describe: see {@link MAX_CONTENT_SIZE}
 * (~6.7 GiB) in one block; larger content gets a two-level tree whose root
 * and nodes each stay within this size.
 */
export const MAX_MANIFEST_BLOCK_SIZE = 1048576

/**
 * Encoded bytes taken by one chunk CID entry of a manifest: tag of field 1
 * (1 byte), length varint (1 byte, as 36 < 128) and the 36-byte binary CID.
 */
export const MANIFEST_CHUNK_ENTRY_SIZE = 1 + 1 + CID_BYTE_LENGTH

/**
 * Encoded bytes taken by the other fields of a manifest, at most: the
 * SHA-256 (tag, length, 32 bytes) and the size (tag, varint of at most
 * 5 bytes, enough for any size below 2^35 bytes = 32 GiB, which covers every
 * size a single manifest block can describe).
 */
export const MANIFEST_FIXED_SIZE = (1 + 1 + SHA2_256_LENGTH) + (1 + 5)

/** The most chunks a single manifest block lists (27593). */
export const MAX_CHUNKS_PER_MANIFEST = Math.floor((MAX_MANIFEST_BLOCK_SIZE - MANIFEST_FIXED_SIZE) / MANIFEST_CHUNK_ENTRY_SIZE)

/**
 * The largest content, in bytes, that a single manifest block can describe:
 * `MAX_CHUNKS_PER_MANIFEST * CHUNK_SIZE` = 7233339392 bytes (~6.74 GiB). Its
 * manifest encodes to 1048574 bytes, within {@link MAX_MANIFEST_BLOCK_SIZE};
 * one more chunk would not fit.
 */
export const MAX_CONTENT_SIZE = MAX_CHUNKS_PER_MANIFEST * CHUNK_SIZE

/** Encoded bytes of the tree fields of a root manifest besides its node CIDs: `chunks_per_child` (tag, varint of at most 3 bytes). */
export const MANIFEST_TREE_FIXED_SIZE = 1 + 3

/** The most chunk CIDs one `ManifestNode` block lists (27594: a node holds nothing else). */
export const MAX_CHUNKS_PER_NODE = Math.floor(MAX_MANIFEST_BLOCK_SIZE / MANIFEST_CHUNK_ENTRY_SIZE)

/** The most node CIDs a tree manifest's root lists (leaving room for the largest description). */
export const MAX_CHILDREN = Math.floor((MAX_MANIFEST_BLOCK_SIZE - MANIFEST_FIXED_SIZE - MANIFEST_TREE_FIXED_SIZE - MAX_DESCRIPTION_BYTES) / MANIFEST_CHUNK_ENTRY_SIZE)

/**
 * Chunks per manifest block when content is published: content of up to this
 * many chunks gets a single-block manifest, larger content a tree with this
 * many chunks per node. Changing it changes the manifest CID of large content.
 */
export const DEFAULT_CHUNKS_PER_BLOCK = MAX_CHUNKS_PER_MANIFEST

/** Entries of one collection, at most (a folder of a hundred thousand files). */
export const MAX_COLLECTION_ENTRIES = 100_000

/** UTF-8 bytes of one collection path, at most. */
export const MAX_PATH_BYTES = 1024

/** Encoded bytes of a collection's entry list, at most (what a node reads whole to walk it). */
export const MAX_COLLECTION_BYTES = 64 * 1024 * 1024
