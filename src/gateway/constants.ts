/** Address the gateway listens on unless told otherwise: loopback only. */
export const DEFAULT_GATEWAY_HOST = '127.0.0.1'

/** Port the gateway listens on unless told otherwise. */
export const DEFAULT_GATEWAY_PORT = 8180

/** How long `GET /dds/<cid>` (and `/api/v1/stat`) looks for content before answering 404, in ms. */
export const DEFAULT_NOT_FOUND_TIMEOUT_MS = 30_000

/** How long the `/` page waits for connected peers' catalogs, in ms. */
export const DEFAULT_PAGE_BROWSE_TIMEOUT_MS = 5_000

/** Entries per catalog the `/` page lists at most. */
export const PAGE_CATALOG_LIMIT = 500

/** `Cache-Control` of content: a CID names the same bytes forever. */
export const IMMUTABLE_CACHE_CONTROL = 'public, max-age=31536000, immutable'

/**
 * Largest `?limit=` of `GET /api/v1/catalog`, per catalog: what the core
 * gathers when given no limit. Bounds what one request makes this node
 * gather from peers and hold before answering.
 */
export const MAX_CATALOG_LIMIT = 10_000

/** Where the HTTP API lives. */
export const API_PREFIX = '/api/v1'

/**
 * Content descriptions (size, media type, name) the content route keeps, so
 * that the many Range requests of one media element read the manifest once.
 * A CID names the same manifest forever, so they never go stale.
 */
export const DESCRIPTION_CACHE_ENTRIES = 1024

/**
 * Most chunk CIDs one `GET /api/v1/chunks/<cid>` lists (about 200 KB of
 * JSON, 1 GiB of content); a client pages through more with `from`.
 */
export const MAX_CHUNK_LIST = 4096

/**
 * How long `POST /api/v1/connect` waits for an address of a peer this node
 * is already connected to to answer, in ms (the core's connect waits as long).
 */
export const CONNECT_PROBE_TIMEOUT_MS = 10_000
