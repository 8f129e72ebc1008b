import { CID_BYTE_LENGTH } from '../cid.js'
import { MAX_MANIFEST_BLOCK_SIZE } from '../manifest/index.js'

/** The media type of a CAR file (CARv1 unless its `version` parameter says otherwise). */
export const CAR_MEDIA_TYPE = 'application/vnd.ipld.car'

/**
 * Blocks an export reads from the store ahead of the one it is writing, so
 * that the store's reads (LevelDB reads on libuv's thread pool) overlap the
 * hashing of the block before them. Bounds what an export holds: this many
 * blocks of at most 256 KiB (a chunk) or 1 MiB (a manifest node).
 */
export const DEFAULT_EXPORT_READ_AHEAD = 8

/**
 * Largest CAR header an import reads, in bytes: room for about 1,700 root
 * CIDs. A header that declares more is refused before it is buffered.
 */
export const MAX_CAR_HEADER_BYTES = 65536

/** Most roots a CAR to import may name. */
export const MAX_CAR_ROOTS = 1024

/**
 * Largest CAR section (a block with its CID) an import reads, in bytes: a
 * DDS block is at most a manifest block (1 MiB), and its CID 36 bytes. A
 * section that declares more is refused before it is buffered, so a CAR
 * from anywhere cannot make an import hold more than one such section.
 */
export const MAX_CAR_SECTION_BYTES = MAX_MANIFEST_BLOCK_SIZE + CID_BYTE_LENGTH
