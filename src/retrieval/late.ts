import { LATE_FACTOR } from './constants.js'
import { cheapest } from './peer-state.js'
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
    const peer = cheapest(this.session.candidates(head).filter(p => p.free))
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
 * race the outstanding requests; the first answer wins and the other request
 * is cancelled. At most one duplicate per chunk.
 */
export function endgame (session: SessionCore): void {
  for (const slot of session.slots.values()) {
    if (slot.state !== 'fetching' || slot.attempts.size !== 1) {
      continue
    }
    const peer = cheapest(session.candidates(slot).filter(p => p.free && p.inFlight === 0))
    if (peer != null) {
      session.start(slot, peer)
    }
  }
}
