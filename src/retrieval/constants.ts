/** Chunks in flight or held ahead of the output (the reorder buffer): 64 x 256 KiB = 16 MiB at most, whatever the content size. */
export const DEFAULT_WINDOW = 64

/** Providers a search for holders of a block asks the DHT for. */
export const DEFAULT_MAX_PROVIDERS = 8

/** Peers one retrieval uses at most. */
export const DEFAULT_MAX_PEERS = 16

/** Requests a retrieval starts with in flight to one peer; the window grows by one per success. */
export const DEFAULT_INITIAL_PEER_WINDOW = 4

/** Most requests a retrieval keeps in flight to one peer. */
export const DEFAULT_MAX_PEER_WINDOW = 32

/** Requests a retrieval sends to a busy peer together, in one message (see `RetrievalInit.requestBatch`). */
export const DEFAULT_REQUEST_BATCH = 4

/** How long a retrieval searches the DHT for holders of a block before it gives up with NotFoundError, in ms. */
export const DEFAULT_PROVIDER_TIMEOUT_MS = 30_000

/** Longest deadline of one block request to one peer (used until the peer's latency is known), in ms. */
export const DEFAULT_BLOCK_TIMEOUT_MS = 20_000

/** Shortest deadline of one block request, however fast the peer has been, in ms. */
export const DEFAULT_MIN_BLOCK_TIMEOUT_MS = 5_000

/** Manifests fetched from peers that a node keeps decoded in memory, so that repeated reads of one content (a media player's range requests, `stat` then `retrieve`) fetch its manifest once. */
export const RECENT_MANIFESTS = 32

/** Encoded bytes of the recent manifests kept, at most (a 1 MiB manifest lists ~6.7 GiB of content). */
export const RECENT_MANIFEST_BYTES = 2 * 1024 * 1024

/**
 * Passing failures (a timeout, a connection that broke) one peer may have on
 * one chunk before the chunk is asked of other peers only: a timeout may be
 * passing load and a broken connection is dialed again, so the peer gets a
 * second try.
 */
export const MAX_PASSING_FAILURES_PER_PEER = 2

/** The chunk the output waits for is late once its request has taken this many times its peer's usual answer time; it is then asked of a second peer too. */
export const LATE_FACTOR = 2

/** Weight of the newest sample in a peer's moving average of answer times. */
export const LATENCY_EWMA_WEIGHT = 0.2

/** A block request may take this many times its peer's average answer time before it times out (within `minBlockTimeoutMs` and `blockTimeoutMs`). */
export const TIMEOUT_FACTOR = 8

/** Nodes of a manifest tree one retrieval keeps decoded: the one the output reads from and the one before it (1 MiB each at most). */
export const TREE_NODES_KEPT = 2

/**
 * Manifests read from the local store that a node keeps decoded, so that a
 * media player's many range requests decode a manifest once (decoding a
 * 256-chunk manifest costs more than serving a small range from it).
 */
export const DECODED_LOCAL_MANIFESTS = 32

/** Encoded bytes of the decoded local manifests kept, at most. */
export const DECODED_LOCAL_MANIFEST_BYTES = 2 * 1024 * 1024

/**
 * Holders found on the DHT that a manifest or tree-node fetch asks at once.
 * A provider record costs nothing to publish, so some may name peers that
 * never answer: asking a few at once lets a real holder answer first.
 */
export const PARALLEL_PROVIDER_ASKS = 3

/**
 * How long a DHT-found holder has to answer a manifest or tree-node request
 * before the next one is asked, in ms. One that misses it is asked again
 * with the full block deadline only if no other holder sent the block.
 */
export const PROVIDER_FIRST_ANSWER_MS = 3_000

/**
 * While none of the holders asked for a manifest or tree node has answered,
 * one more is asked each this many ms: holders that never answer delay a
 * real one by this much each, not by their whole deadline.
 */
export const PROVIDER_HEDGE_MS = 500

/** How long a retrieval leaves a peer that answered BUSY without a `retry_after_ms` before asking it again, in ms. */
export const DEFAULT_BUSY_REST_MS = 500

/**
 * BUSY answers one peer may give for one chunk before a retrieval stops
 * asking it for that chunk (with the usual retry-after, some seconds of
 * waiting; meanwhile other peers are asked).
 */
export const MAX_BUSY_PER_PEER = 40

/** Times a manifest or tree node is asked again of a peer that answered BUSY. */
export const MAX_BUSY_RETRIES = 10

/** Collection lists a node keeps decoded after listing them (a player asks for one track after another). */
export const RECENT_COLLECTIONS = 16

/** Entries of a list kept among the recent ones, at most (a larger list is fetched each time). */
export const RECENT_COLLECTION_ENTRIES = 10_000
