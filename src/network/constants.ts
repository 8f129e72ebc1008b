/** The DDS request/response protocol id. */
export const DDS_PROTOCOL = '/digisocialblock/dds/0.1.0'

/** Listen addresses of a node created without `listen`: TCP and QUIC on loopback, on free ports. */
export const DEFAULT_LISTEN = ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/udp/0/quic-v1']

/** Maximum open libp2p connections of a node DDS creates. */
export const DEFAULT_MAX_CONNECTIONS = 300

/**
 * How often libp2p's connection monitor pings each open connection of a node
 * DDS creates (each end opens a ping stream; one that fails or times out
 * closes the connection). At libp2p's own 10 s the pings were most of an
 * idle node's CPU, and they grow with its connections: each costs a node
 * about 7 ms of CPU per interval (its ping and its peer's), ~43 ms a minute
 * per connection at 10 s, so a node with 50 connections spent ~3.5 % of a
 * core on them. Once a minute cuts that sixfold. The cost: a peer that vanished
 * without closing its connections (its host lost power or network) is
 * noticed within about a minute instead of ~10 s; a peer whose process ends
 * is noticed at once either way (its kernel closes the sockets), and Yamux's
 * own keep-alive (every 30 s) keeps idle TCP connections from timing out.
 */
export const DEFAULT_CONNECTION_PING_INTERVAL_MS = 60_000

/**
 * Address ranges whose peers bypass libp2p's per-IP inbound connection rate
 * limit on a node DDS creates (many nodes on one machine dial from one IP).
 */
export const DEFAULT_ALLOW: readonly string[] = ['/ip4/127.0.0.1']

/**
 * Largest frame (one encoded Request or Response, without its length prefix)
 * a node reads or writes: a 1 MiB manifest block plus envelope overhead. A
 * bigger frame resets the stream before any of it is buffered.
 */
export const DEFAULT_MAX_FRAME_SIZE = 1024 * 1024 + 1024

/**
 * Most bytes a frame reader holds that it has not yet cut into frames. One
 * 'message' event can deliver everything the muxer received since the last
 * one (several frames at once); the muxer's flow-control window keeps that
 * well below this bound for an honest peer.
 */
export const MAX_UNREAD_BYTES = 32 * 1024 * 1024

/**
 * Whole frames a frame reader can always hold, whatever `maxFrameSize`: its
 * bound is the larger of `MAX_UNREAD_BYTES` and this many frames.
 */
export const MIN_UNREAD_FRAMES = 2

/**
 * Most bytes of frames a coalescing writer puts in one stream message:
 * requests are tens of bytes, so a group of them fits many times over, while
 * large frames (a StoreChunk's block) still go out about one at a time, each
 * after the stream has room again.
 */
export const COALESCE_BYTES = 64 * 1024

/**
 * Data of a RetrieveChunk answer at least this long is sent as its own piece
 * after a short header instead of being copied into one encoded frame; below
 * it the copy costs less than a second piece.
 */
export const SEPARATE_DATA_MIN = 4096

/** Inbound DDS streams a peer may have open on one connection. */
export const DEFAULT_MAX_INBOUND_STREAMS = 32

/** Outbound DDS streams this node may open on one connection. */
export const DEFAULT_MAX_OUTBOUND_STREAMS = 64

/** Requests a responder works on at once for one stream; it stops reading the stream while at this limit. */
export const DEFAULT_MAX_REQUESTS_PER_STREAM = 16

/**
 * Requests a responder works on at once for one peer, over all of that
 * peer's streams and connections; past this the peer gets BUSY. It keeps one
 * peer from taking every node-wide slot (`DEFAULT_MAX_CONCURRENT_REQUESTS`).
 */
export const DEFAULT_MAX_REQUESTS_PER_PEER = 64

/** Requests a responder works on at once over all peers; past this it answers BUSY. */
export const DEFAULT_MAX_CONCURRENT_REQUESTS = 256

/**
 * Requests a responder works on at once for all peers whose connections come
 * from one address prefix (the same IPv4 /24 or IPv6 /48; a relayed
 * connection counts as its own prefix): identities made up on one machine or
 * network share this budget. A peer with no request being worked on is let
 * past it (see `NEW_PEER_RESERVE_FRACTION`), so an honest peer that shares an
 * address with greedy ones still gets answered.
 */
export const DEFAULT_MAX_REQUESTS_PER_PREFIX = 128

/**
 * Share of `maxConcurrentRequests` kept for peers that have no request being
 * worked on: such a peer gets a slot past the node-wide and prefix limits
 * while fewer than this share of extra slots are in use.
 */
export const NEW_PEER_RESERVE_FRACTION = 1 / 8

/**
 * A stream on which answers have waited this long with none leaving (the
 * stream does not drain: its peer does not read) is stalled: when another peer then finds no free
 * slot, the stalled stream of a peer holding more slots than that peer is
 * reset and its slots go to the others.
 */
export const DEFAULT_STALL_GRACE_MS = 500

/** The wait a BUSY answer asks for (`retry_after_ms`) when no earlier moment is known. */
export const DEFAULT_BUSY_RETRY_AFTER_MS = 500

/** Longest wait a requester honours from a BUSY answer's `retry_after_ms`. */
export const MAX_RETRY_AFTER_MS = 10_000

/**
 * Requests a requester keeps in flight on one stream (32 x 256 KiB = 8 MiB of
 * responses at most). The retrieval engine's per-peer window stays within it.
 */
export const DEFAULT_MAX_IN_FLIGHT_PER_PEER = 32

/** Deadline of one request, from send to verified response, when the caller gives no signal. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000

/**
 * Deadline for the responder to work out the answer to one request (local
 * lookup, store, `onReplicate`), past which it answers ERROR; and again,
 * separately, to hand that answer to the stream, past which the stream is
 * reset (its peer is not reading its answers).
 */
export const DEFAULT_HANDLER_TIMEOUT_MS = 20_000

/** A stream with no traffic for this long is closed, on both sides. */
export const DEFAULT_STREAM_IDLE_TIMEOUT_MS = 60_000

/**
 * A responder resets an inbound stream with no answers outstanding that has
 * been silent for this many idle timeouts (the requester closes its streams
 * after one; this catches those that never do). It checks once per idle
 * timeout.
 */
export const RESPONDER_IDLE_FACTOR = 2

/** Bytes of accepted StoreChunk data after which this node refuses more (REJECTED). */
export const DEFAULT_MAX_STORED_BYTES = 10 * 1024 * 1024 * 1024

/** Score at or below which a peer is banned. */
export const BAN_SCORE = -100

/** How long a banned peer stays banned. */
export const DEFAULT_BAN_DURATION_MS = 10 * 60 * 1000

/** Peers whose scores are remembered; the least recently changed are forgotten first. */
export const MAX_SCORED_PEERS = 10_000

/** Penalty for bytes that do not hash to the CID they were sent for. */
export const PENALTY_WRONG_BYTES = 100

/** Penalty for an oversized, truncated or undecodable frame, or a response nobody asked for. */
export const PENALTY_PROTOCOL_VIOLATION = 50

/** Penalty for a request that timed out. */
export const PENALTY_TIMEOUT = 5

/** Score a peer regains for a verified answer (a score never rises above 0, so good answers cannot bank credit). */
export const REWARD_GOOD_ANSWER = 1

/** Characters of a peer's `error` text kept in the messages of the errors we throw. */
export const MAX_PEER_TEXT_LENGTH = 200

/** Catalog entries asked for per page when the caller names no limit. */
export const DEFAULT_CATALOG_PAGE_SIZE = 100

/** Most catalog entries one page holds (a larger `limit` is cut to it). */
export const MAX_CATALOG_PAGE_SIZE = 500

/**
 * Most bytes of entries one catalog page holds; a page stops before the
 * entry that would pass it (every entry is at most ~16.5 KiB, so a page
 * always fits one frame).
 */
export const MAX_CATALOG_PAGE_BYTES = 512 * 1024

/**
 * How often a node that is not publicly reachable checks that it still
 * listens through a relay (it also checks whenever a relay connects or
 * leaves, and whenever its own addresses change).
 */
export const RELAY_CHECK_INTERVAL_MS = 30_000

/** How long a node that found no relay to take its reservation waits before it asks them again. */
export const RELAY_RETRY_MS = 5_000

/** Reservations a relay server (`relay: { server: true }`) holds for other nodes at once. */
export const DEFAULT_RELAY_MAX_RESERVATIONS = 128

/**
 * How long a relayed connection through this node's relay server may last
 * (circuit relay v2's default): enough to ask for a manifest, a catalog page
 * or to coordinate a direct connection, not to carry content.
 */
export const DEFAULT_RELAY_DURATION_LIMIT_MS = 2 * 60_000

/** Bytes a relayed connection through this node's relay server may carry in each direction (circuit relay v2's default). */
export const DEFAULT_RELAY_DATA_LIMIT = 128 * 1024

/**
 * How long a request that must go over a direct connection waits for one
 * when the only connection to its peer is relayed (while the node dials the
 * peer's other addresses and hole punching runs) before it fails with
 * NoDirectPathError.
 */
export const DEFAULT_DIRECT_WAIT_MS = 15_000

/**
 * Largest RetrieveChunk answer a node sends over a relayed connection: a
 * manifest of small content fits, a 256 KiB chunk does not (chunks move only
 * over direct connections).
 */
export const MAX_RELAYED_ANSWER_BYTES = 64 * 1024

/**
 * Length of one slice of the upload pacing that shares a node's upload
 * between competing peers when no upload limit is set (src/network/shares.ts):
 * rates are measured, and limits set, once per slice.
 */
export const SHARE_SLICE_MS = 100

/**
 * How far ahead of the fastest competitor that is not held back a prefix or
 * peer may run when peers compete for an unlimited upload (a fraction: 0.1
 * is 10%); also how fast the limits grow per slice when every competitor is
 * held back. Beside n greedy identities, an honest peer then gets at least
 * about 1/(1 + 1.1 n) of what they share.
 */
export const SHARE_HEADROOM = 0.1

/**
 * Slices of its limit a paced prefix or peer may save up and send at once:
 * the pacing holds a peer to a pace over half a second, not within each
 * slice, so the bursts of an honest retriever refilling its window are not
 * clipped.
 */
export const SHARE_BURST_SLICES = 5

/** Weight of the newest slice in the moving average of each prefix's and peer's upload rate (0.25: about a second of memory at 100 ms slices). */
export const SHARE_RATE_WEIGHT = 0.25

/**
 * The least a competing prefix or peer is held to, as a fraction of an equal
 * share of the node's recent peak upload: a peer that asks slowly cannot hold
 * the others below it.
 */
export const SHARE_FLOOR_FRACTION = 0.25

/** Decay of the node's recent peak upload per slice (its half-life is 30 s at 100 ms slices). */
export const SHARE_PEAK_DECAY = 0.5 ** (SHARE_SLICE_MS / 30_000)

/**
 * Fraction of the time a prefix or peer must have `SHARE_BUSY_DEPTH` chunk
 * requests waiting on the node at once (received, answer not yet handed to
 * its stream; a moving average over the slices) for its pace to bound the
 * others'. A peer that asks slowly, or reads slowly, has its requests
 * answered one at a time as they come; one the node slows down (its CPU or
 * link is shared with others) has its window queued there. Only the latter
 * may hold others back: the pacing stays work-conserving.
 */
export const SHARE_BUSY_FRACTION = 0.25

/**
 * Chunk requests of one prefix or peer that must wait on the node at once for
 * the time to count towards `SHARE_BUSY_FRACTION`: a retriever the node slows
 * down has its window of requests queued there, one that asks slowly has one
 * at a time, answered at once.
 */
export const SHARE_BUSY_DEPTH = 2

/** Upload rate (bytes per second) below which a prefix or peer does not count as competing for the upload: one 256 KiB chunk a second. */
export const MIN_COMPETING_RATE = 256 * 1024
