/** What `publish` announces when `announce` is not given. */
export const DEFAULT_ANNOUNCE = 'all'

/** How long `Dds.create` waits for bootstrap peers, in ms. */
export const DEFAULT_BOOTSTRAP_TIMEOUT_MS = 10_000

/** StoreChunk requests in flight to one seed peer during a publish. */
export const DEFAULT_SEED_CONCURRENCY = 8

/** Wait after a new connection before announcing again what reached no DHT peer, in ms (lets the routing table fill). */
export const REANNOUNCE_DELAY_MS = 500

/** How long `browse` waits for each peer's catalog, in ms. */
export const DEFAULT_BROWSE_TIMEOUT_MS = 10_000

export { DEFAULT_CATALOG_PAGE_SIZE, MAX_CATALOG_PAGE_SIZE } from './network/constants.js'
