/** Gathered entries `catalog` returns at most when given no `limit`. */
export const DEFAULT_CATALOG_LIMIT = 10_000

/** How long `browse` waits for each peer's catalog, in ms. */
export const DEFAULT_BROWSE_TIMEOUT_MS = 10_000

export { DEFAULT_CATALOG_PAGE_SIZE, MAX_CATALOG_PAGE_SIZE } from '../network/constants.js'
