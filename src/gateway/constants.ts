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

/** The media type of one raw block (a trustless gateway's `?format=raw`). */
export const RAW_MEDIA_TYPE = 'application/vnd.ipld.raw'

/**
 * The empty identity CID, which the IPFS Trustless Gateway specification
 * reserves as a probe: `/ipfs/bafkqaaa` answers an empty block or an empty
 * CAR, so a client can tell a trustless gateway without asking for content.
 */
export const TRUSTLESS_PROBE_CID = 'bafkqaaa'

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

/**
 * Requests one client (an IPv4 address or an IPv6 /64) may have in progress
 * at once, any route; more are answered 429 with `Retry-After`.
 */
export const DEFAULT_MAX_REQUESTS_PER_CLIENT = 64

/**
 * Content responses (`GET /dds/<cid>`) in progress at once over all
 * clients; more are answered 503 with `Retry-After`. Each holds at most
 * `DEFAULT_RESPONSE_WINDOW` chunks, so together they buffer at most 128 MiB.
 */
export const DEFAULT_MAX_CONTENT_RESPONSES = 32

/** Content responses one client may have in progress at once; more are answered 429. */
export const DEFAULT_MAX_CONTENT_RESPONSES_PER_CLIENT = 8

/**
 * Chunks one content response fetches ahead of its client (4 MiB). At a
 * 40 ms round trip that still keeps ~100 MiB/s in flight; a client that
 * reads slower holds no more than this.
 */
export const DEFAULT_RESPONSE_WINDOW = 16

/**
 * How long a content response may wait for its client to take what it was
 * sent before its connection is closed, in ms. Waiting for peers does not
 * count: only bytes that sit unread.
 */
export const DEFAULT_WRITE_TIMEOUT_MS = 20_000

/** Seconds a client refused with 429 or 503 is told to wait (`Retry-After`). */
export const RETRY_AFTER_SECONDS = 1

/**
 * Connections the kernel may queue before the gateway accepts them (the
 * kernel caps it at `net.core.somaxconn`). Node's default of 511 drops the
 * handshakes of a burst beyond it, and their clients retry only after 1, 3
 * and 7 s.
 */
export const LISTEN_BACKLOG = 4096

/** Bytes of one entry's header line in a folder upload, at most. */
export const MAX_ENTRY_HEADER_BYTES = 64 * 1024

/** Collections (albums, folders) whose tracks the node's page lists, at most. */
export const PAGE_COLLECTIONS = 50
