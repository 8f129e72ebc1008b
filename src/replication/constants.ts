/** Live holders a pinned content should have, this node included. */
export const DEFAULT_REPLICATION_FACTOR = 3

/** How often pinned content is rechecked, in ms. */
export const DEFAULT_CHECK_INTERVAL_MS = 5 * 60 * 1000

/** Consecutive checks that must find too few holders before repair starts (one absent check is tolerated). */
export const DEFAULT_REPAIR_AFTER_CHECKS = 2

/**
 * Wait before a check that found too few holders is run again to confirm
 * it, in ms; at most a quarter of the check interval. A holder that misses
 * one check and answers again within this wait sets off no repair; one
 * that is gone is replaced without waiting for the next regular checks.
 */
export const CONFIRM_CHECK_DELAY_MS = 15_000

/**
 * Wait after the last connection to a holder of checked content closed
 * before that content is checked, in ms, instead of at the next regular check
 * (5 minutes by default). A peer that reconnects within it is found alive;
 * a check since the departure counts instead. Repair still follows the usual
 * confirmation, so one departure never repairs on its own.
 */
export const HOLDER_LEFT_CHECK_DELAY_MS = 3_000

/** Checks run at once for the content of holders that left. */
export const HOLDER_LEFT_CHECK_CONCURRENCY = 4

/** Deadline of one liveness probe of a holder, in ms. */
export const DEFAULT_PROBE_TIMEOUT_MS = 5_000

/** Holders a check asks the DHT for. */
export const DEFAULT_MAX_HOLDERS_SEARCHED = 20

/** Bytes of replicas this node holds for others at most. */
export const DEFAULT_REPLICA_QUOTA_BYTES = 1024 * 1024 * 1024

/** Share of the replica quota one peer may fill. */
export const DEFAULT_PER_PEER_SHARE = 0.5

/** Name of the record table holding pins. */
export const PINS_TABLE = 'pins'

/** How long gc spares a block a peer stored here before a pin references it, in ms. */
export const DEFAULT_STORED_GRACE_MS = 10 * 60 * 1000

/** Replica fetches running at once. */
export const DEFAULT_MAX_REPLICA_FETCHES = 4

/** Live holders above the factor tolerated before replica holders drop copies (the band's width). */
export const DEFAULT_COPIES_ABOVE_FACTOR = 2

/** Peers that refused a copy of a content are not asked for it again for this long, in ms. */
export const REFUSAL_MEMORY_MS = 10 * 60 * 1000

/** Probes of holders one check runs at once. */
export const PROBE_CONCURRENCY = 8

/**
 * The search for holders of a content gets this many probe deadlines
 * (`probeTimeoutMs`): a DHT walk takes several round trips where a probe takes one.
 */
export const HOLDER_SEARCH_PROBE_DEADLINES = 2

/**
 * A ReplicationInstruction gets this many probe deadlines (`probeTimeoutMs`):
 * the peer fetches and checks the manifest before it answers.
 */
export const INSTRUCTION_PROBE_DEADLINES = 4

/** Times a holder probe asks again a peer that answered BUSY (after the wait it asked for). */
export const MAX_BUSY_PROBES = 3

/** The wait before asking again a peer whose BUSY answer named none, in ms. */
export const BUSY_PROBE_WAIT_MS = 500
