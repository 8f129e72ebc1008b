export { CHUNK_SIZE } from '../cid.js'

/** Name of the operation in abort and timeout errors raised while chunking. */
export const CHUNKING_OPERATION = 'chunking content'
