/** Protocol id of the DDS Kademlia DHT. A DDS network never joins the public IPFS DHT. */
export const DDS_KAD_PROTOCOL = '/digisocialblock/dds/kad/1.0.0'

/** How long a provider record stays valid on the peers that store it (48 h). */
export const DEFAULT_PROVIDE_VALIDITY_MS = 48 * 60 * 60 * 1000
/**
 * kad-dht re-announces its own records once they are within this of expiring
 * (12 h: at 36 h old). A DDS node re-announces each record once a day itself,
 * in sweeps spread over the day (the announcer's re-announcement cycle), so
 * this is only the safety net for records that cycle missed.
 */
export const DEFAULT_REPROVIDE_THRESHOLD_MS = 12 * 60 * 60 * 1000
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

/** Peers each record of a sweep goes to: kad-dht's K, the peers a provide sends a record to. */
export const SWEEP_REPLICAS = 20
/** Records sent to a peer before a PING that the peer answers once it has handled them. */
export const SWEEP_BATCH = 256
/** Records placed at once (how many a sweep holds in memory beyond the CIDs it was given). */
export const SWEEP_SLICE = 4096
/** Peers a sweep sends to at once, one stream each. */
export const SWEEP_PEER_CONCURRENCY = 8
/**
 * Peers a re-announcement's sweep sends to at once. It is background work with
 * an hour for its part of the key space: one peer at a time leaves the CPU,
 * the node's and its peers', to serving (docs/benchmarks.md, "Announcing at
 * scale, and 50 nodes": with the whole cycle at once at 50 nodes on 2 cores,
 * serving kept 1.15 of its rate with 1, 0.80 with 2, 0.41 with 8).
 */
export const REANNOUNCE_PEER_CONCURRENCY = 1
/** How long a sweep waits for a stream to open or a batch to be acknowledged, in ms. */
export const SWEEP_ACK_TIMEOUT_MS = 30_000
/** CIDs an announce queue reads from its sources into one sweep (`provideMany`). */
export const SWEEP_QUEUE_BATCH = 16_384
