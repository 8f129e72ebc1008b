/** Protocol id of the DDS Kademlia DHT. A DDS network never joins the public IPFS DHT. */
export const DDS_KAD_PROTOCOL = '/digisocialblock/dds/kad/1.0.0'

/** How long a provider record stays valid on the peers that store it (48 h). */
export const DEFAULT_PROVIDE_VALIDITY_MS = 48 * 60 * 60 * 1000
/** Re-announce records that are older than this (24 h). */
export const DEFAULT_REPROVIDE_THRESHOLD_MS = 24 * 60 * 60 * 1000
/** How often the DHT looks for records to re-announce (1 h). */
export const DEFAULT_REPROVIDE_INTERVAL_MS = 60 * 60 * 1000
/** How many re-announcements run at once. */
export const DEFAULT_REPROVIDE_CONCURRENCY = 10
/** Streams per connection the DHT protocol may open or accept (raised from libp2p's 32/64 so concurrent provides do not lose records). */
export const DEFAULT_DHT_MAX_STREAMS = 256

/** How long `provide` runs before it gives up (30 s): the closest-peer walk plus the ADD_PROVIDER sends. */
export const DEFAULT_PROVIDE_TIMEOUT_MS = 30_000
/** How long `findProviders` searches before it ends with what it found (30 s). */
export const DEFAULT_FIND_TIMEOUT_MS = 30_000

/**
 * Background announcements an `AnnounceQueue` runs at once by default
 * (kad-dht loses records past ~16 concurrent provides per connection).
 */
export const DEFAULT_ANNOUNCE_CONCURRENCY = 8

/** How often `waitForPeers` looks at the routing table, in ms. */
export const PEER_POLL_MS = 20
