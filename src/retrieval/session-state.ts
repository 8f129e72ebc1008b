import type { PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import type { Uint8ArrayList } from 'uint8arraylist'
import type { DeadlineSignal } from '../signals.js'
import type { Failures } from './failures.js'
import type { PeerState, PeerWindowLimits } from './peer-state.js'

/** Limits of one session. */
export interface SessionLimits extends PeerWindowLimits {
  /** Chunks held or in flight ahead of the output. */
  window: number
  /** Peers one session uses at most. */
  maxPeers: number
  /** Providers a search for more holders asks the DHT for. */
  maxProviders: number
  /**
   * A peer with at least this many requests in flight is given more only
   * once it has room for this many, so that requests go out in groups.
   */
  requestBatch: number
  /** How long one search for more holders may take. */
  providerTimeoutMs: number
}

/** What one delivered chunk looks like to the consumer. */
export interface DeliveredChunk {
  index: number
  cid: CID
  /** The verified chunk, in the pieces it arrived in. */
  bytes: Uint8ArrayList
  from: string
}

/** Totals of one session, reported when it ends. */
export interface SessionStats {
  /** Bytes of verified blocks received from peers, duplicates included. */
  bytesReceived: number
  /** Blocks received that another peer had already delivered (endgame and rescue duplicates). */
  duplicates: number
  /** Chunks asked of a second peer because the first was late with the chunk the output waited for. */
  rescued: number
  /** Blocks read from the local store. */
  localBlocks: number
  /** Peers that delivered at least one block. */
  peersUsed: number
}

/** One chunk of the range being retrieved. */
export interface Slot {
  index: number
  cid?: CID
  state: 'preparing' | 'queued' | 'fetching' | 'parked' | 'done' | 'failed'
  /** The requests in flight for this chunk, by peer. */
  attempts: Map<string, DeadlineSignal>
  /** Peers not to ask again for this chunk. */
  tried: Set<string>
  /** True once the DHT has been searched for this chunk's holders. */
  searched: boolean
  /** Timeouts per peer for this chunk. */
  passingFailures: Map<string, number>
  /** BUSY answers per peer for this chunk. */
  busy?: Map<string, number>
  /** How each peer failed, once one has (to explain a final NotFoundError or IntegrityError). */
  failures?: Failures
  /** When the chunk was last handed to a peer (performance.now()). */
  startedAt?: number
  /** True once the chunk was asked of a second peer because its first was late. */
  rescued: boolean
  bytes?: Uint8ArrayList
  from?: string
  error?: Error
  /** Set while the output waits for this chunk. */
  waiter?: PromiseWithResolvers<void>
}

/** A new slot for chunk `index`, its CID still to be found. */
export function newSlot (index: number): Slot {
  return { index, state: 'preparing', attempts: new Map(), tried: new Set(), searched: false, rescued: false, passingFailures: new Map() }
}

/** True once the slot's chunk was delivered or given up on. */
export function settled (slot: Slot): boolean {
  return slot.state === 'done' || slot.state === 'failed'
}

/**
 * What the parts of a session that run beside its scheduler (the rescue of
 * a late chunk, the endgame, the search for more holders) see of it.
 */
export interface SessionCore {
  readonly peers: ReadonlyMap<string, PeerState>
  readonly slots: ReadonlyMap<number, Slot>
  readonly stats: SessionStats
  /** The content being retrieved (its manifest CID, as the caller asked for it) and its chunk count. */
  readonly content: { cid: CID, chunks: number }
  /** Aborts when the session ends. */
  readonly signal: AbortSignal
  /** The peers that may still be asked for the slot's chunk. */
  candidates(slot: Slot): PeerState[]
  /** Asks `peer` for the slot's chunk. */
  start(slot: Slot, peer: PeerState): void
  /** Puts the slot's chunk back in the queue for the next pass. */
  requeue(slot: Slot): void
  /** Gives up on the slot's chunk with `err`. */
  fail(slot: Slot, err: Error): void
  /** Adds a peer that may hold the content. */
  addPeer(peer: PeerId): boolean
  /** Hands queued chunks to peers with room (a scheduler pass). */
  pump(): void
}
