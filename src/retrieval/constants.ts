/** Chunks fetched ahead of the one being yielded (the reorder window): at most this many chunks are held in memory. */
export const DEFAULT_WINDOW = 16

/** Providers of the manifest a retrieval asks for. */
export const DEFAULT_MAX_PROVIDERS = 8

/** How long a retrieval searches the DHT for holders of a block before it gives up with NotFoundError, in ms. */
export const DEFAULT_PROVIDER_TIMEOUT_MS = 30_000

/** Deadline of one block request to one peer, in ms. */
export const DEFAULT_BLOCK_TIMEOUT_MS = 20_000
