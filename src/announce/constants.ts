/** What `publish` announces when `announce` is not given. */
export const DEFAULT_ANNOUNCE = 'manifest'

/** Wait after a new connection before announcing again what reached no DHT peer, in ms (lets the routing table fill). */
export const REANNOUNCE_DELAY_MS = 500

/** How long a re-announcement waits for the DHT to know a peer, in ms. */
export const REANNOUNCE_PEER_WAIT_MS = 10_000
