/**
 * The `/digisocialblock/dds/0.1.0` protocol: a request/response service that
 * serves blocks from the local store to peers, accepts blocks from peers its
 * store policy allows, and fetches and verifies blocks from peers.
 *
 * Frames are unsigned-varint length-prefixed protobuf `Request`/`Response`
 * envelopes (protos/dds_messages.proto). One stream carries many requests;
 * responses are matched by id, so requests are pipelined.
 *
 * @module
 */

import type { AbortOptions, Libp2p, PeerId, Startable, ComponentLogger } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import type { Uint8ArrayList } from 'uint8arraylist'
import type { StorageProvider } from '../storage/index.js'
import type { Status } from '../pb/index.js'
import { booleanOption, numberOption, timeoutOption } from '../options.js'
import { DEFAULT_CATALOG_POLICY, DEFAULT_STORE_POLICY, validateCatalogPolicy, validateStorePolicy, type CatalogPolicy, type StorePolicy } from './policy.js'
import type { CatalogItem } from './catalog.js'
import { DdsNetworkService } from './service.js'
import type { BandwidthLimiter, BandwidthStats } from './bandwidth.js'
import type { PeerScores } from './scores.js'
import * as c from './constants.js'
import { MAX_MANIFEST_BLOCK_SIZE } from '../manifest/index.js'

export { DDS_PROTOCOL } from './constants.js'
export type { StorePolicy, CatalogPolicy } from './policy.js'
export type { CatalogItem } from './catalog.js'
export type { PeerScores, PeerStanding } from './scores.js'
export { BandwidthLimiter, TokenBucket, BANDWIDTH_BURST_MS, MIN_BANDWIDTH_BURST, MIN_BANDWIDTH_RATE, resolveBandwidthInit } from './bandwidth.js'
export type { BandwidthInit, BandwidthStats, BandwidthDirectionStats } from './bandwidth.js'
export { createDdsLibp2p, type DdsLibp2p, type DdsLibp2pInit, type DdsLibp2pServices, type NatInit, type RelayInit } from './libp2p.js'
export { isPublicAddress } from './relay-keeper.js'

/** Options of one request to a peer. */
export interface RequestOptions extends AbortOptions {
  /**
   * Deadline of this request in ms, counted from the moment it has one of the
   * peer's `maxInFlightPerPeer` slots (time queued behind our own requests is
   * not counted, nor time waiting for this node's own bandwidth limits);
   * `requestTimeoutMs` of the service when omitted.
   */
  timeoutMs?: number
  /** Called when the deadline starts (the request is about to be sent): from then on, time taken is the peer's. */
  onStart?(): void
  /**
   * The request is small (a manifest, a tree node) and may go over a relayed
   * connection. Without it the request goes only over a direct connection,
   * as chunks do: see `NetworkInit.directWaitMs`.
   *
   * @default false
   */
  relayed?: boolean
}

/** What the network service talks to peers for. */
export interface NetworkService extends Startable {
  /**
   * How peers behaved. A banned peer is neither served nor asked, and its
   * connections are closed when the ban starts; until it ends, new ones are
   * refused (at the handshake by a node `createDdsLibp2p` made with
   * `isBanned`, right after it otherwise).
   */
  readonly scores: PeerScores

  /** Blocks (and their bytes) this node answered OK to peers' RetrieveChunk requests since it started. */
  readonly served: { readonly blocks: number, readonly bytes: number }

  /** Store size past which this node takes no more blocks for others (StoreChunk, replicas): `NetworkInit.maxStoredBytes`. */
  readonly maxStoredBytes: number
  /** The bandwidth limits in force and the traffic that went through them (all zero without limits). */
  readonly bandwidth: BandwidthStats

  /**
   * Fetches one block from `peer` and verifies it against `cid`.
   *
   * @throws {NotFoundError} the peer does not hold it
   * @throws {IntegrityError} the peer sent other bytes (it is penalised; nothing is kept)
   * @throws {RejectedError} the peer's policy refused
   * @throws {TimeoutError} no answer in time (the peer is penalised a little)
   * @throws {AbortError} the caller's signal aborted
   * @throws {RemoteError} the peer could not be reached or answered BUSY/ERROR/INVALID
   * @throws {ProtocolError} the peer broke the protocol (it is penalised)
   */
  retrieveBlock(peer: PeerId, cid: CID, options?: RequestOptions): Promise<Uint8Array>

  /**
   * `retrieveBlock`, with the block left in the pieces it arrived in (views
   * into what the connection received, verified as they are): what a reader
   * that passes the bytes on uses, since it saves copying them into one array.
   */
  retrieveBlockPieces(peer: PeerId, cid: CID, options?: RequestOptions): Promise<Uint8ArrayList>

  /** Asks `peer` to store one block (StoreChunk). Errors as for `retrieveBlock`. */
  storeBlock(peer: PeerId, cid: CID, bytes: Uint8Array, options?: RequestOptions): Promise<void>

  /** Sends `peer` a ReplicationInstruction for `cid`, naming peers to fetch from. */
  replicate(peer: PeerId, cid: CID, sources: PeerId[], options?: RequestOptions): Promise<void>

  /**
   * Asks `peer` for one page of its catalog: up to `limit` items after the
   * CID `after`, and whether more follow. Every item is checked.
   *
   * @throws {RejectedError} the peer's catalog policy refused
   * @throws {ProtocolError} the peer sent more items than asked for, or an invalid one (it is penalised)
   * Other errors as for `retrieveBlock`.
   */
  catalog(peer: PeerId, options?: CatalogRequestOptions): Promise<{ items: CatalogItem[], more: boolean }>

  /** True while `peer` is banned for misbehaviour. */
  isBanned(peer: PeerId): boolean

  /**
   * How this node is connected to `peer` now: `direct` when one open
   * connection is direct, `relayed` when every open one goes through a relay
   * (limited: small requests only), `none` when there is none.
   */
  pathTo(peer: PeerId): 'direct' | 'relayed' | 'none'

  /**
   * Makes sure a direct connection to `peer` is open, as a chunk request
   * would: an open one, a dial, or (when the only way is a relay) hole
   * punching for up to `directWaitMs`.
   *
   * @throws {NoDirectPathError} only a relayed connection could be had
   * @throws {RemoteError} the peer could not be reached at all
   * @throws {AbortError} the signal aborted
   */
  openDirect(peer: PeerId, signal?: AbortSignal): Promise<void>
}

/** Options of `NetworkService.catalog`. */
export interface CatalogRequestOptions extends RequestOptions {
  /** The CID of the last item of the previous page; omitted for the first page. */
  after?: CID
  /** Items wanted, 1 to 500. @default 100 */
  limit?: number
}

/** What the network service needs from the node. */
export interface NetworkComponents {
  libp2p: Pick<Libp2p, 'handle' | 'unhandle' | 'dial' | 'dialProtocol' | 'getConnections' | 'addEventListener' | 'removeEventListener'>
  storage: StorageProvider
  /** Where the service logs (bans, as `dds:network`). @default nothing is logged */
  logger?: ComponentLogger
  /** Limits of the chunk traffic; none when omitted. */
  bandwidth?: BandwidthLimiter
}

/**
 * Options of the network service. Every limit is listed in doc/LIMITS.md;
 * each is a whole number of at least 1, and the timeouts are at most
 * 2147483647 ms (the longest Node.js timer).
 */
export interface NetworkInit {
  /** @default '/digisocialblock/dds/0.1.0' */
  protocol?: string
  /** Largest frame read or written, in bytes. @default 1049600 (1 MiB + 1 KiB) */
  maxFrameSize?: number
  /** Largest block accepted by StoreChunk, in bytes. @default 1048576 */
  maxBlockSize?: number
  /** Inbound DDS streams per connection. @default 32 */
  maxInboundStreams?: number
  /** Outbound DDS streams per connection. @default 64 */
  maxOutboundStreams?: number
  /**
   * Requests answered at once per inbound stream, every answer counted until
   * it is handed to the stream (BUSY and INVALID ones included); the stream
   * is not read while at the limit. @default 16
   */
  maxRequestsPerStream?: number
  /**
   * Requests worked on at once for one peer, over all of its streams; more
   * get BUSY, so one peer cannot take every slot of `maxConcurrentRequests`.
   * @default 64
   */
  maxRequestsPerPeer?: number
  /** Requests answered at once over all peers; more get BUSY. @default 256 */
  maxConcurrentRequests?: number
  /**
   * Requests worked on at once for all peers connecting from one IPv4 /24 or
   * IPv6 /48 (a relayed connection counts alone), so identities made up on
   * one machine share a budget. A peer with no request being worked on is
   * still served past it. @default 128
   */
  maxRequestsPerPrefix?: number
  /**
   * Answers that wait this long (ms) with none leaving (the peer does not
   * read) mark the stream stalled: when another peer finds no free slot, a stalled stream
   * of a peer holding more slots is reset to free them. @default 500
   */
  stallGraceMs?: number
  /**
   * With no node-wide upload limit (`bandwidth.upload`), pace answers to
   * competing peers so that no address prefix, and no peer within one, runs
   * more than `SHARE_HEADROOM` (10%) ahead of the fastest competitor that the
   * node slows down and does not hold back (see src/network/shares.ts): a
   * greedy peer runs at most a little ahead of an honest one, which then
   * has the shared bottleneck (link or CPU) to itself. A lone peer is never
   * paced, and a peer slow on its own (a home link, a slow reader: its
   * requests are answered at once) holds nobody back, so the upload stays
   * busy. With an upload limit the limit's fair turns share it instead.
   * @default true
   */
  fairUpload?: boolean
  /** Requests in flight to one peer. @default 32 */
  maxInFlightPerPeer?: number
  /**
   * Deadline of one outgoing request in ms, from the moment it has a slot
   * (see `maxInFlightPerPeer`); also the deadline of opening a stream to a
   * peer. Only a request that was sent and timed out penalises the peer.
   * @default 30000
   */
  requestTimeoutMs?: number
  /**
   * Deadline to work out the answer to one incoming request in ms (an ERROR
   * answer past it), and again to hand that answer to the stream (the stream
   * is reset past it: its peer is not reading). @default 20000
   */
  handlerTimeoutMs?: number
  /**
   * How long a request that needs a direct connection (every chunk) waits
   * for one when the only connection to its peer is relayed, in ms (the
   * node dials the peer's addresses and hole punching runs meanwhile);
   * NoDirectPathError past it. @default 15000
   */
  directWaitMs?: number
  /** Idle time after which a DDS stream is closed, in ms. @default 60000 */
  idleTimeoutMs?: number
  /** Who may store blocks here with StoreChunk. @default 'none' */
  storePolicy?: StorePolicy
  /** Store size (bytes) past which StoreChunk is REJECTED. @default 10737418240 (10 GiB) */
  maxStoredBytes?: number
  /** How long a misbehaving peer stays banned, in ms. @default 600000 */
  banDurationMs?: number
  /** Called after a peer stored a block here. */
  onBlockStored?(cid: CID, from: PeerId): void
  /** Handles ReplicationInstructions; without it they are answered REJECTED. */
  onReplicate?(cid: CID, sources: Uint8Array[], from: PeerId, signal: AbortSignal): Promise<{ status: Status, error?: string }>
  /** Who may list this node's catalog with a CatalogRequest. @default 'any' */
  catalogPolicy?: CatalogPolicy
  /** Lists catalog items after `after` (in CID string order); without it CatalogRequests are answered REJECTED. */
  onCatalog?(after: CID | undefined, limit: number, signal: AbortSignal): Promise<{ items: CatalogItem[], more: boolean }>
}

type Hooks = 'onBlockStored' | 'onReplicate' | 'onCatalog'

/** `NetworkInit` with every default filled in. */
export type ResolvedNetworkInit = Required<Omit<NetworkInit, Hooks>> & Pick<NetworkInit, Hooks>

/**
 * Fills in defaults and checks every option: each limit is a whole number of
 * at least 1 (streams, requests, bytes and milliseconds alike), and a
 * timeout is at most `MAX_TIMER_MS` (~24.8 days).
 *
 * @throws {InvalidInputError} naming the first option that breaks its rule
 */
export function resolveNetworkInit (init: NetworkInit = {}): ResolvedNetworkInit {
  return {
    protocol: init.protocol ?? c.DDS_PROTOCOL,
    maxFrameSize: numberOption('maxFrameSize', init.maxFrameSize, c.DEFAULT_MAX_FRAME_SIZE),
    maxBlockSize: numberOption('maxBlockSize', init.maxBlockSize, MAX_MANIFEST_BLOCK_SIZE),
    maxInboundStreams: numberOption('maxInboundStreams', init.maxInboundStreams, c.DEFAULT_MAX_INBOUND_STREAMS),
    maxOutboundStreams: numberOption('maxOutboundStreams', init.maxOutboundStreams, c.DEFAULT_MAX_OUTBOUND_STREAMS),
    maxRequestsPerStream: numberOption('maxRequestsPerStream', init.maxRequestsPerStream, c.DEFAULT_MAX_REQUESTS_PER_STREAM),
    maxRequestsPerPeer: numberOption('maxRequestsPerPeer', init.maxRequestsPerPeer, c.DEFAULT_MAX_REQUESTS_PER_PEER),
    maxConcurrentRequests: numberOption('maxConcurrentRequests', init.maxConcurrentRequests, c.DEFAULT_MAX_CONCURRENT_REQUESTS),
    maxRequestsPerPrefix: numberOption('maxRequestsPerPrefix', init.maxRequestsPerPrefix, c.DEFAULT_MAX_REQUESTS_PER_PREFIX),
    stallGraceMs: timeoutOption('stallGraceMs', init.stallGraceMs, c.DEFAULT_STALL_GRACE_MS),
    fairUpload: booleanOption('fairUpload', init.fairUpload, true),
    maxInFlightPerPeer: numberOption('maxInFlightPerPeer', init.maxInFlightPerPeer, c.DEFAULT_MAX_IN_FLIGHT_PER_PEER),
    requestTimeoutMs: timeoutOption('requestTimeoutMs', init.requestTimeoutMs, c.DEFAULT_REQUEST_TIMEOUT_MS),
    handlerTimeoutMs: timeoutOption('handlerTimeoutMs', init.handlerTimeoutMs, c.DEFAULT_HANDLER_TIMEOUT_MS),
    idleTimeoutMs: timeoutOption('idleTimeoutMs', init.idleTimeoutMs, c.DEFAULT_STREAM_IDLE_TIMEOUT_MS),
    directWaitMs: timeoutOption('directWaitMs', init.directWaitMs, c.DEFAULT_DIRECT_WAIT_MS),
    storePolicy: validateStorePolicy(init.storePolicy ?? DEFAULT_STORE_POLICY),
    maxStoredBytes: numberOption('maxStoredBytes', init.maxStoredBytes, c.DEFAULT_MAX_STORED_BYTES),
    banDurationMs: numberOption('banDurationMs', init.banDurationMs, c.DEFAULT_BAN_DURATION_MS),
    catalogPolicy: validateCatalogPolicy(init.catalogPolicy ?? DEFAULT_CATALOG_POLICY),
    onBlockStored: init.onBlockStored,
    onReplicate: init.onReplicate,
    onCatalog: init.onCatalog
  }
}

/** Creates the network service. Call `start()` to register the protocol handler. */
export function networkService (init: NetworkInit = {}): (components: NetworkComponents) => NetworkService {
  const resolved = resolveNetworkInit(init)
  return (components) => new DdsNetworkService(components, resolved)
}
