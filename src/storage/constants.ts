/** The `createStorage` spec that selects the in-memory store. */
export const MEMORY_SPEC = 'memory'

/**
 * Default of `LevelStorageInit.sync`: LevelDB writes are handed to the OS
 * (`write(2)`) but not fsynced before they resolve.
 */
export const DEFAULT_LEVEL_SYNC = false

/** Sublevel of the LevelDB store that holds blocks (key: binary CID, value: block bytes). */
export const BLOCKS_SUBLEVEL = 'blocks'

/** Sublevel of the LevelDB store that holds the store's own records (the stats counters). */
export const META_SUBLEVEL = 'meta'

/** Key, in the meta sublevel, of the persisted block and byte counters. */
export const STATS_KEY = 'stats'

/** Sublevel names the storage module keeps for itself; `sublevel()` refuses them. */
export const RESERVED_SUBLEVELS: readonly string[] = [BLOCKS_SUBLEVEL, META_SUBLEVEL]

/** Sublevel holding the node's private key (see identity.ts). */
export const IDENTITY_SUBLEVEL = 'identity'

/**
 * Blocks per store batch when content is written as it streams (publish, and
 * fetches that store what they receive): 16 x 256 KiB = 4 MiB per batch.
 */
export const WRITE_BATCH_BLOCKS = 16
