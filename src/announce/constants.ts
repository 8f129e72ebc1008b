/** What `publish` announces when `announce` is not given. */
export const DEFAULT_ANNOUNCE = 'manifest'

/** Wait after a new connection before announcing again what reached no DHT peer, in ms (lets the routing table fill). */
export const REANNOUNCE_DELAY_MS = 500

/** How long a re-announcement waits for the DHT to know a peer, in ms. */
export const REANNOUNCE_PEER_WAIT_MS = 10_000

/**
 * The re-announcement cycle: every hour, the records whose DHT key lies in
 * that hour's part of the key space (one of 24) are announced again in one
 * sweep, so each record goes out once a day, well within the 48 h its
 * holders keep it, and never all at once.
 */
export const REANNOUNCE_PART_MS = 60 * 60 * 1000
/** Parts of the key space in one re-announcement cycle (24 of an hour: a day). */
export const REANNOUNCE_PARTS = 24

/** Reasons a sweep gives for peers it could not reach that one log line quotes (the rest are counted in the sweep). */
export const SWEEP_FAILURES_LOGGED = 3
