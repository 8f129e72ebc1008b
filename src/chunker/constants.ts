/**
 * Size of every chunk but the last, in bytes (256 KiB). Fixed by the DDS
 * content addressing rules: with the raw codec and sha2-256 this yields the
 * same leaf CIDs as `ipfs add --cid-version 1 --raw-leaves --chunker size-262144`.
 */
export const CHUNK_SIZE = 262144

/** Name of the operation in abort and timeout errors raised while chunking. */
export const CHUNKING_OPERATION = 'chunking content'
