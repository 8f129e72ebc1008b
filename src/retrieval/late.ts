import { LATE_FACTOR } from './constants.js'
import { cheapest, type PeerState } from './peer-state.js'
import type { SessionCore, Slot } from './session-state.js'

/**
 * The rescue of a late chunk. When the window is full and every chunk in it
 * has been asked for, the chunk the output waits for holds up everything
 * behind it; once its request has taken more than LATE_FACTOR times its
 * peer's usual answer time (or, for a peer that has not answered yet, the
 * quickest peer's), that peer is late (slow to start, or overloaded) and a
 * free peer is asked too; the first answer wins, as in the endgame. At most
 * one duplicate per chunk, and only for the chunk at the head of the window.
 */
export class LateRescue {
  private readonly session: SessionCore
  private timer?: ReturnType<typeof setTimeout>
  private due = 0

  constructor (session: SessionCore) {
    this.session = session
  }

  /** Checks `head`, the chunk the output waits for, while the window is full and every chunk in it was asked for. */
  check (head: Slot | undefined): void {
    if (head == null || head.state !== 'fetching' || head.rescued || head.attempts.size !== 1 || head.startedAt == null) {
      return
    }
    const holder = this.session.peers.get(head.attempts.keys().next().value!)
    const usual = holder?.latencyMs ?? Math.min(...[...this.session.peers.values()].map(p => p.latencyMs ?? Infinity))
    if (!Number.isFinite(usual)) {
      return
    }
    const elapsed = performance.now() - head.startedAt
    const lateIn = LATE_FACTOR * usual - elapsed
    if (lateIn > 0) {
      // nothing else may happen before then (the late peer may hold everything in flight)
      this.schedule(lateIn)
      return
    }
    const peer = cheapest(answeredFirst(this.session.candidates(head).filter(p => p.free)))
    if (peer != null) {
      head.rescued = true
      this.session.stats.rescued++
      // the late peer gets less work until it catches up
      holder?.late(elapsed)
      this.session.start(head, peer)
    }
  }

  /** Cancels a scheduled check; the session has ended. */
  stop (): void {
    clearTimeout(this.timer)
    this.timer = undefined
  }

  /** Runs the scheduler again in `ms` (or sooner, if a check is already due sooner). */
  private schedule (ms: number): void {
    const due = performance.now() + ms
    if (this.timer != null && this.due <= due) {
      return
    }
    clearTimeout(this.timer)
    this.due = due
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.session.pump()
    }, Math.ceil(ms))
    this.timer.unref?.()
  }
}

/**
 * The endgame: once every chunk of the range has been requested, idle peers
 * (those that have answered before first) race the outstanding requests;
 * the first answer wins and the other requests are cancelled. At most one
 * duplicate per chunk, and a second one from a peer that has answered when
 * none of the peers asked has.
 */
export function endgame (session: SessionCore): void {
  for (const slot of session.slots.values()) {
    if (slot.state !== 'fetching') {
      continue
    }
    // one duplicate per chunk; a second one only from a peer known to
    // answer, when every peer asked so far has never answered (a provider
    // record may name a peer that never will)
    const unproven = [...slot.attempts.keys()].every(key => session.peers.get(key)?.latencyMs == null)
    if (slot.attempts.size !== 1 && !(unproven && slot.attempts.size === 2)) {
      continue
    }
    const idle = session.candidates(slot).filter(p => p.free && p.inFlight === 0)
    const peer = cheapest(slot.attempts.size === 1 ? answeredFirst(idle) : idle.filter(p => p.latencyMs != null))
    if (peer != null) {
      session.start(slot, peer)
    }
  }
}

/**
 * The peers that have answered this session before, when there are any.
 * A duplicate request goes to a peer known to answer: one that has not (a
 * holder named by a provider record that nobody checks) ranks as the
 * quickest of all and would take the duplicate only to miss it too.
 */
function answeredFirst (peers: PeerState[]): PeerState[] {
  const answered = peers.filter(p => p.latencyMs != null)
  return answered.length > 0 ? answered : peers
}
