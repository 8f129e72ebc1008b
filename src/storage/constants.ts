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

/** Record table holding the node's private key (see identity.ts): a sublevel of a LevelDB store, `/dds/identity/` in a datastore. */
export const IDENTITY_TABLE = 'identity'

/** Key of the node's private key in the identity table. */
export const PRIVATE_KEY_RECORD = 'private-key'

/** Namespace of every datastore key DDS writes: record `k` of table `t` is `/dds/t/k`. */
export const DATASTORE_PREFIX = '/dds'

/** Record table of a blockstore's counters (see adapter/counters.ts): `/dds/storage/stats` in the datastore. */
export const STORAGE_TABLE = 'storage'

/** Key of the counters record in the storage table. */
export const COUNTERS_RECORD = 'stats'

/**
 * Blocks whose presence `blockstoreStorage` checks at once before a write
 * (the interface has no `hasMany`), and whose presence it checks at once
 * when it settles a write a crash interrupted.
 */
export const PRESENCE_CHECKS = 16

/**
 * Blocks per store batch when content is written as it streams (publish, and
 * fetches that store what they receive): 16 x 256 KiB = 4 MiB per batch.
 */
export const WRITE_BATCH_BLOCKS = 16
