/**
 * Fair shares of a node's upload when no upload limit is configured.
 *
 * Without `bandwidth.upload` and without this pacing nothing at the node
 * waits: every answer is handed to its stream as soon as it is ready, and
 * each peer gets what its own pipeline and reading speed let it take. A peer keeping 64 requests in
 * flight on four streams then takes several times what a retriever keeping
 * a few takes, and on a shared bottleneck (the node's link, or the CPU the
 * readers share) it takes it from the others: measured with
 * `npm run attack -- greedy`, the honest retriever's answers never waited
 * at the node, yet it got 0.23 of the upload beside one greedy identity.
 *
 * So, when peers compete, the node paces them: time is cut into slices of
 * `SHARE_SLICE_MS`; each address prefix (IPv4 /24, IPv6 /48), and within a
 * prefix each peer, has its upload rate measured (a moving average over the
 * slices). A prefix (peer) may send, per slice, at most (1 +
 * `SHARE_HEADROOM`) times the rate of the fastest other competing prefix
 * (peer of the prefix) that the node slows down and did not hold back in the
 * last slice; one above an equal share of what the competitors get now is
 * held to the fastest of those not above it (greedy peers would otherwise
 * bound only each other, and all run free). A greedy peer runs at most a
 * little ahead of the others, which then have the shared bottleneck to
 * themselves. When every other competitor
 * is held back too, the limit grows by that factor per slice, so peers that
 * all want more than they get probe upwards together; a lone peer is never
 * held back, and a peer slower than the others is never held back by them.
 *
 * The pacing stays work-conserving: only a competitor the node slows down
 * bounds the others. The server tells `begin` and `end` when each chunk
 * request arrives and when its answer is ready for the stream; a retriever
 * slowed down by the others (or held back here) has a window of requests
 * queued at the node most of the time, one that asks slowly (a home link, a
 * slow reader, a retriever far away) has one at a time, answered at once.
 * A competitor with `SHARE_BUSY_DEPTH` requests waiting for less than
 * `SHARE_BUSY_FRACTION` of the time bounds nobody, and when no competitor
 * bounds a peer and none is held back, its limit doubles per slice until it
 * comes off. Measured with `npm run attack -- greedy --slow 8`: beside a
 * peer asking 8 MiB/s the honest retriever kept its full speed, where the
 * rule without this held it to about 14 MiB/s.
 *
 * A competitor the node does slow down but that asks for little would hold
 * the others near its pace; no limit goes below `SHARE_FLOOR_FRACTION` of an
 * equal share of the node's recent peak upload, so what such a peer can
 * take from others is bounded. Peers below `MIN_COMPETING_RATE` do not
 * count as competing at all.
 *
 * An answer waiting here holds its request slot (the peer's streams then
 * stop being read at their limits) and is not counted as a stall of its
 * peer: the wait is the node's, not the peer's.
 *
 * @module
 */

import { abortReason, throwIfAborted } from '../errors.js'
import { MIN_COMPETING_RATE, SHARE_BURST_SLICES, SHARE_BUSY_DEPTH, SHARE_BUSY_FRACTION, SHARE_FLOOR_FRACTION, SHARE_HEADROOM, SHARE_PEAK_DECAY, SHARE_RATE_WEIGHT, SHARE_SLICE_MS } from './constants.js'

/** The pacing of one prefix, or of one peer within its prefix. */
interface Share {
  /** Bytes sent in the current slice. */
  sent: number
  /** Moving average of the bytes per second sent, over past slices. */
  rate: number
  /** Bytes it may still send in the current slice (may be negative after a frame larger than what was left). */
  budget: number
  /** The limit in bytes per second for the current slice; Infinity when unpaced. */
  limit: number
  /** Some frame waited for this share in the current slice. */
  held: boolean
  /** Some frame waited for it in the last slice. */
  heldLast: boolean
  /** Frames waiting now. */
  waiting: number
  /** Requests the node is working on now (received, answer not yet handed to the stream). */
  working: number
  /** Since when `working` has been above 0 in this slice (undefined: it is 0). */
  busySince?: number
  /** Time in this slice with `working` above 0, in ms. */
  busyMs: number
  /** Moving average of the fraction of each slice with `working` above 0. */
  busy: number
}

interface Prefix extends Share {
  peers: Map<string, Share>
}

interface Waiter {
  prefix: string
  peer: string
  bytes: number
  signal?: AbortSignal
  resolve(): void
  reject(err: Error): void
  onAbort?(): void
}

/** What the pacing did since the node started. */
export interface UploadShareStats {
  /** Frames that waited for their share. */
  waits: number
  /** Time frames spent waiting, in ms (waits in parallel add up). */
  waitMs: number
}

const newShare = (): Share => ({ sent: 0, rate: 0, budget: Infinity, limit: Infinity, held: false, heldLast: false, waiting: 0, working: 0, busyMs: 0, busy: 0 })

/**
 * The pacing of one node's answers (see the module comment). `take` is
 * called before an answer carrying chunk data is handed to its stream.
 */
export class UploadShares {
  private readonly prefixes = new Map<string, Prefix>()
  private readonly queue: Waiter[] = []
  private readonly now: () => number
  private sliceStart: number
  private peak = 0
  private timer?: ReturnType<typeof setTimeout>
  readonly stats: UploadShareStats = { waits: 0, waitMs: 0 }

  constructor (now: () => number = performance.now.bind(performance)) {
    this.now = now
    this.sliceStart = now()
  }

  /** Frames waiting for their share. */
  get waiting (): number {
    return this.queue.length
  }

  /** The limit in force for `peer` (of `prefix`), in bytes per second: the smaller of its prefix's and its own; Infinity when unpaced. */
  limitOf (prefix: string, peer: string): number {
    this.roll()
    const p = this.prefixes.get(prefix)
    return Math.min(p?.limit ?? Infinity, p?.peers.get(peer)?.limit ?? Infinity)
  }

  /**
   * Waits until `bytes` may be sent to `peer` (of `prefix`); at once when
   * neither its prefix nor the peer is over its share. Rejects with the
   * signal's error if it aborts first.
   */
  take (prefix: string, peer: string, bytes: number, signal?: AbortSignal): Promise<void> | undefined {
    throwIfAborted(signal, 'waiting for a share of the upload')
    this.roll()
    const [p, s] = this.sharesOf(prefix, peer)
    if (this.queue.length === 0 || !this.queue.some(w => w.prefix === prefix && w.peer === peer)) {
      if (p.budget > 0 && s.budget > 0) {
        this.spend(p, s, bytes)
        return undefined
      }
    }
    p.held = true
    s.held = true
    p.waiting++
    s.waiting++
    this.stats.waits++
    const started = this.now()
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { prefix, peer, bytes, signal, resolve, reject }
      if (signal != null) {
        waiter.onAbort = () => {
          const at = this.queue.indexOf(waiter)
          if (at >= 0) {
            this.queue.splice(at, 1)
            this.left(waiter, started)
            reject(abortReason(signal, 'waiting for a share of the upload'))
          }
        }
        signal.addEventListener('abort', waiter.onAbort, { once: true })
      }
      waiter.resolve = () => {
        this.left(waiter, started)
        resolve()
      }
      this.queue.push(waiter)
      this.schedule()
    })
  }

  /**
   * The node starts working on a chunk request of `peer` (of `prefix`); call
   * `end` once its answer is ready for the stream (or failed). The time a
   * peer has requests waiting on the node tells a peer the node slows down
   * from one slow on its own (see `limit`).
   */
  begin (prefix: string, peer: string): void {
    this.roll()
    const now = this.now()
    for (const share of this.sharesOf(prefix, peer)) {
      if (++share.working === SHARE_BUSY_DEPTH) {
        share.busySince = now
      }
    }
  }

  /** The answer to a request passed to `begin` is ready, or failed. */
  end (prefix: string, peer: string): void {
    this.roll()
    const p = this.prefixes.get(prefix)
    const s = p?.peers.get(peer)
    const now = this.now()
    for (const share of [p, s]) {
      if (share != null && share.working > 0 && --share.working === SHARE_BUSY_DEPTH - 1 && share.busySince != null) {
        share.busyMs += now - share.busySince
        share.busySince = undefined
      }
    }
  }

  private sharesOf (prefix: string, peer: string): [Prefix, Share] {
    let p = this.prefixes.get(prefix)
    if (p == null) {
      p = { ...newShare(), peers: new Map() }
      this.prefixes.set(prefix, p)
    }
    let s = p.peers.get(peer)
    if (s == null) {
      s = newShare()
      p.peers.set(peer, s)
    }
    return [p, s]
  }

  private left (waiter: Waiter, started: number): void {
    const p = this.prefixes.get(waiter.prefix)
    const s = p?.peers.get(waiter.peer)
    if (p != null) p.waiting--
    if (s != null) s.waiting--
    if (waiter.onAbort != null) {
      waiter.signal?.removeEventListener('abort', waiter.onAbort)
    }
    this.stats.waitMs += this.now() - started
  }

  private spend (p: Share, s: Share, bytes: number): void {
    p.sent += bytes
    s.sent += bytes
    p.budget -= bytes
    s.budget -= bytes
  }

  /** Wakes at the next slice while frames wait. */
  private schedule (): void {
    if (this.timer != null || this.queue.length === 0) {
      return
    }
    const ms = Math.max(1, Math.ceil(this.sliceStart + SHARE_SLICE_MS - this.now()))
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.roll()
      this.release()
      this.schedule()
    }, ms)
    this.timer.unref?.()
  }

  /** Lets the waiting frames whose shares have budget again go, oldest first. */
  private release (): void {
    for (let i = 0; i < this.queue.length;) {
      const w = this.queue[i]!
      const p = this.prefixes.get(w.prefix)!
      const s = p.peers.get(w.peer)!
      if (p.budget > 0 && s.budget > 0) {
        this.queue.splice(i, 1)
        this.spend(p, s, w.bytes)
        w.resolve()
      } else {
        i++
      }
    }
  }

  /** Ends the slices that have passed: updates the rates, then the limits and budgets of the new slice. */
  private roll (): void {
    const now = this.now()
    let passed = Math.floor((now - this.sliceStart) / SHARE_SLICE_MS)
    if (passed <= 0) {
      return
    }
    this.sliceStart += passed * SHARE_SLICE_MS
    // after a long quiet spell every rate has decayed to nothing: forget them
    if (passed > 100 && this.queue.length === 0 && ![...this.prefixes.values()].some(p => p.working > 0)) {
      this.prefixes.clear()
      this.peak = 0
      return
    }
    let total = 0
    for (const [prefixKey, p] of this.prefixes) {
      for (const [peerKey, s] of p.peers) {
        this.measure(s, passed)
        if (s.rate < 1 && s.waiting === 0 && s.working === 0) {
          p.peers.delete(peerKey)
        }
      }
      this.measure(p, passed)
      total += p.rate
      if (p.peers.size === 0 && p.waiting === 0 && p.working === 0) {
        this.prefixes.delete(prefixKey)
      }
    }
    while (passed-- > 0) {
      this.peak *= SHARE_PEAK_DECAY
    }
    this.peak = Math.max(this.peak, total)
    this.limit([...this.prefixes.values()], Infinity)
    for (const p of this.prefixes.values()) {
      this.limit([...p.peers.values()], p.limit)
    }
  }

  /** Folds the slices that passed into a share's rate and starts a new slice. */
  private measure (s: Share, passed: number): void {
    s.rate += SHARE_RATE_WEIGHT * (s.sent * 1000 / SHARE_SLICE_MS - s.rate)
    for (let i = 1; i < Math.min(passed, 100); i++) {
      s.rate *= 1 - SHARE_RATE_WEIGHT
    }
    s.sent = 0
    s.heldLast = s.held || s.waiting > 0
    s.held = false
    if (s.busySince != null) {
      s.busyMs += this.sliceStart - s.busySince
      s.busySince = this.sliceStart
    }
    s.busy += SHARE_RATE_WEIGHT * (Math.min(1, s.busyMs / (passed * SHARE_SLICE_MS)) - s.busy)
    s.busyMs = 0
  }

  /**
   * Sets the limits of competitors at one level (prefixes, or the peers of
   * one prefix whose own limit is `outer`) and their budgets for the slice.
   */
  private limit (shares: Share[], outer: number): void {
    const competing = shares.filter(s => s.rate >= MIN_COMPETING_RATE || s.waiting > 0)
    const floor = competing.length > 1 ? SHARE_FLOOR_FRACTION * this.peak / competing.length : 0
    const equal = competing.reduce((sum, s) => sum + s.rate, 0) / competing.length
    for (const s of shares) {
      let limit = Infinity
      if (competing.length > 1 && competing.includes(s)) {
        // the fastest other competitor the node slows down without holding
        // it back; for a peer above an equal share, the fastest of those not
        // above it (peers above it cannot bound each other: they would all
        // run free, each a little behind the fastest)
        const above = s.rate > equal
        let fastestFree = -1
        let othersHeld = false
        for (const other of competing) {
          if (other === s) continue
          if (other.heldLast) {
            othersHeld = true
          } else if (other.busy >= SHARE_BUSY_FRACTION && (!above || other.rate <= equal)) {
            fastestFree = Math.max(fastestFree, other.rate)
          }
        }
        if (fastestFree >= 0) {
          limit = (1 + SHARE_HEADROOM) * fastestFree
        } else if (othersHeld) {
          // all held back: probe upwards together
          limit = s.limit * (1 + SHARE_HEADROOM)
        } else {
          // nobody else is slowed down by the node: nothing to share out,
          // so the limit comes off within a few slices
          limit = s.limit * 2 > this.peak ? Infinity : s.limit * 2
        }
        limit = Math.max(limit, floor, MIN_COMPETING_RATE)
      }
      s.limit = Math.min(limit, outer)
      const allowance = s.limit * SHARE_SLICE_MS / 1000
      // a debt carries over, and so does unused budget up to SHARE_BURST_SLICES
      // slices of it: a retriever's natural bursts (a window refilled at once)
      // are not clipped, only its pace over several slices
      s.budget = Number.isFinite(allowance) ? Math.min(SHARE_BURST_SLICES * allowance, (Number.isFinite(s.budget) ? s.budget : 0) + allowance) : Infinity
    }
  }

  /** Rejects every waiting frame (the node stops). */
  clear (err: Error): void {
    if (this.timer != null) {
      clearTimeout(this.timer)
      this.timer = undefined
    }
    for (const w of this.queue.splice(0)) {
      w.reject(err)
    }
  }
}
