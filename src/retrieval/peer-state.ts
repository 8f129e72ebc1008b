import type { PeerId } from '@libp2p/interface'
import { LATENCY_EWMA_WEIGHT, TIMEOUT_FACTOR } from './constants.js'

/** Limits of the per-peer flow control. */
export interface PeerWindowLimits {
  initialWindow: number
  maxWindow: number
  minTimeoutMs: number
  maxTimeoutMs: number
}

/**
 * What one retrieval knows about one peer: how many requests it may have in
 * flight (its window), how many it has, and how fast it answers. The window
 * grows by one with each success (additive increase) and halves on a timeout
 * or failure (multiplicative decrease), so fast peers get more of the work
 * and slow ones less. A request's deadline follows the peer's own latency.
 */
export class PeerState {
  readonly peer: PeerId
  readonly key: string
  inFlight = 0
  dropped = false
  /** The peer answered BUSY: it takes no request before this time (Date.now()). */
  restUntil = 0
  /** A direct connection to the peer is being opened: it takes no request until then. */
  connecting = false
  private window: number
  private latency?: number
  private readonly limits: PeerWindowLimits

  constructor (peer: PeerId, limits: PeerWindowLimits) {
    this.peer = peer
    this.key = peer.toString()
    this.limits = limits
    this.window = limits.initialWindow
  }

  /** True when the peer may take another request now. */
  get free (): boolean {
    return !this.dropped && !this.connecting && this.inFlight < this.window && !this.resting
  }

  /** True while the peer asked (with BUSY) not to be asked again yet. */
  get resting (): boolean {
    return this.restUntil > Date.now()
  }

  /** Requests the peer may take now. */
  get capacity (): number {
    return this.dropped || this.connecting || this.resting ? 0 : Math.max(0, this.window - this.inFlight)
  }

  /** Average time this peer took to answer, in ms; undefined until it has answered once. */
  get latencyMs (): number | undefined {
    return this.latency
  }

  get currentWindow (): number {
    return this.window
  }

  /** Expected time for one more request, used to rank peers (lower is better). */
  get cost (): number {
    return (this.latency ?? 1) * (this.inFlight + 1) / this.window
  }

  /** Deadline for the next request to this peer. */
  get timeoutMs (): number {
    if (this.latency == null) {
      return this.limits.maxTimeoutMs
    }
    return Math.ceil(Math.min(this.limits.maxTimeoutMs, Math.max(this.limits.minTimeoutMs, TIMEOUT_FACTOR * this.latency)))
  }

  succeeded (elapsedMs: number): void {
    this.sample(elapsedMs)
    this.window = Math.min(this.limits.maxWindow, this.window + 1)
  }

  failed (): void {
    this.window = Math.max(1, Math.floor(this.window / 2))
  }

  /** A request of this peer has taken `elapsedMs` so far and was asked of another peer too. */
  late (elapsedMs: number): void {
    this.sample(elapsedMs)
    this.failed()
  }

  private sample (elapsedMs: number): void {
    this.latency = this.latency == null ? elapsedMs : this.latency + LATENCY_EWMA_WEIGHT * (elapsedMs - this.latency)
  }
}

/** The peer expected to answer first (lowest `cost`); undefined when `peers` is empty. */
export function cheapest (peers: Iterable<PeerState>): PeerState | undefined {
  let chosen: PeerState | undefined
  for (const peer of peers) {
    if (chosen == null || peer.cost < chosen.cost) {
      chosen = peer
    }
  }
  return chosen
}
