import { setMaxListeners } from 'node:events'
import type { PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import { Uint8ArrayList } from 'uint8arraylist'
import { blockMatchesCid } from '../cid.js'
import { BusyError, IntegrityError, NoDirectPathError, ProtocolError, RemoteError, TimeoutError, abortReason, AbortError } from '../errors.js'
import { deadlineSignal, type DeadlineSignal } from '../signals.js'
import type { ChunkList } from './chunk-list.js'
import { DEFAULT_BUSY_REST_MS, MAX_BUSY_PER_PEER, MAX_PASSING_FAILURES_PER_PEER } from './constants.js'
import { Failures } from './failures.js'
import { LateRescue, endgame } from './late.js'
import { ParkedChunks } from './parked.js'
import { PeerState, cheapest } from './peer-state.js'
import { newSlot, settled, type DeliveredChunk, type SessionCore, type SessionLimits, type SessionStats, type Slot } from './session-state.js'
import type { RetrievalComponents } from './index.js'

export type { DeliveredChunk, SessionLimits, SessionStats } from './session-state.js'

/**
 * One retrieval's scheduler. It keeps up to `window` chunks in flight or
 * waiting ahead of the output (a bounded reorder buffer), hands each chunk to
 * the peer expected to answer first among those with room in their window
 * (a busy peer gets requests in groups of `requestBatch`), moves a failed
 * chunk to another peer at once, drops a peer that lied (and re-queues
 * everything it had), duplicates a request only for the chunk the output
 * waits for when its peer is late, and for the last chunks once every chunk
 * has been requested (endgame), and searches for more holders only when no
 * known peer can serve a chunk.
 */
export class RetrievalSession implements SessionCore {
  readonly stats: SessionStats = { bytesReceived: 0, duplicates: 0, rescued: 0, localBlocks: 0, peersUsed: 0 }
  readonly peers = new Map<string, PeerState>()
  readonly slots = new Map<number, Slot>()
  readonly content: { cid: CID, chunks: number }
  /** Aborts when the caller's signal does, or when the session ends. */
  readonly signal: AbortSignal
  private readonly components: RetrievalComponents
  private readonly limits: SessionLimits
  private readonly chunks: ChunkList
  private readonly first: number
  private readonly last: number
  private readonly known = new Set<string>()
  /** Peers no direct connection could be opened to, and why: they hold chunks this session cannot get. */
  private readonly unreachable = new Map<string, Error>()
  private readonly used = new Set<string>()
  private readonly queue: number[] = []
  private readonly parked: ParkedChunks
  private readonly rescue: LateRescue
  /** The session's own signal: follows the caller's, and aborts when the session ends. */
  private readonly lifetime: DeadlineSignal
  private readonly callerSignal?: AbortSignal
  private readonly onPeerFailed?: (peer: string, cid: CID, err: Error) => void
  private nextToOpen: number
  private outIndex: number

  constructor (components: RetrievalComponents, limits: SessionLimits, chunks: ChunkList, range: { content: CID, first: number, last: number }, signal?: AbortSignal, onPeerFailed?: (peer: string, cid: CID, err: Error) => void) {
    this.onPeerFailed = onPeerFailed
    this.components = components
    this.limits = limits
    this.chunks = chunks
    this.content = { cid: range.content, chunks: chunks.count }
    this.first = range.first
    this.last = range.last
    this.nextToOpen = range.first
    this.outIndex = range.first
    this.callerSignal = signal
    // one listener on the caller's signal, let go of when the session ends
    this.lifetime = deadlineSignal(signal)
    this.signal = this.lifetime.signal
    // every request in flight listens to it (see deadlineSignal)
    setMaxListeners(Infinity, this.signal)
    // one listener for the session, not one per chunk the output waits for
    this.signal.addEventListener('abort', () => { this.rejectWaiters(abortReason(this.signal, 'retrieve')) }, { once: true })
    this.parked = new ParkedChunks(this, components, limits)
    this.rescue = new LateRescue(this)
  }

  /** Adds a peer that may hold the content. Returns false if it is known, banned or over the limit. */
  addPeer (peer: PeerId): boolean {
    const key = peer.toString()
    const active = [...this.peers.values()].filter(p => !p.dropped).length
    if (this.known.has(key) || this.components.network.isBanned(peer) || active >= this.limits.maxPeers) {
      return false
    }
    this.known.add(key)
    const state = new PeerState(peer, this.limits)
    this.peers.set(key, state)
    if (this.components.network.pathTo(peer) !== 'direct') {
      this.connect(state)
    }
    // chunks that no peer could serve get another chance with this one
    this.parked.retryAll()
    this.pump()
    return true
  }

  /**
   * Opens a direct connection to a peer before it takes chunks (a dial, or
   * hole punching when the only way to it is a relay): meanwhile the peers
   * already connected take the work, so a holder behind a NAT does not hold
   * the first chunks while its connection is upgraded. A peer no direct
   * connection opens to is dropped, and every chunk records why.
   */
  private connect (peer: PeerState): void {
    peer.connecting = true
    this.components.network.openDirect(peer.peer, this.signal).then(() => {
      peer.connecting = false
      this.pump()
    }, (err: Error) => {
      peer.connecting = false
      if (this.signal.aborted) {
        return
      }
      this.onPeerFailed?.(peer.key, this.content.cid, err)
      this.unreachable.set(peer.key, err)
      peer.dropped = true
      for (const slot of this.slots.values()) {
        this.markUnreachable(slot, peer.key, err)
      }
      this.pump()
    })
  }

  private markUnreachable (slot: Slot, peer: string, err: Error): void {
    if (settled(slot) || slot.tried.has(peer)) {
      return
    }
    slot.tried.add(peer);
    (slot.failures ??= new Failures()).add(peer, err)
  }

  /** Yields the chunks of the range in order; ends the session when done, failed or abandoned. */
  async * deliver (): AsyncGenerator<DeliveredChunk> {
    try {
      for (let index = this.first; index <= this.last; index++) {
        this.pump()
        const slot = this.slots.get(index)!
        await this.wait(slot)
        this.slots.delete(index)
        this.outIndex = index + 1
        if (this.callerSignal?.aborted === true) {
          throw abortReason(this.callerSignal, 'retrieve')
        }
        yield { index, cid: slot.cid!, bytes: slot.bytes!, from: slot.from! }
      }
    } finally {
      this.rescue.stop()
      this.lifetime.abort(new AbortError('the retrieval ended'))
      this.rejectWaiters(new AbortError('the retrieval ended'))
      this.slots.clear()
    }
  }

  private async wait (slot: Slot): Promise<void> {
    if (this.signal.aborted) {
      throw abortReason(this.signal, 'retrieve')
    }
    if (!settled(slot)) {
      slot.waiter = Promise.withResolvers()
      await slot.waiter.promise
    }
    if (slot.state === 'failed') {
      throw slot.error!
    }
  }

  private rejectWaiters (err: Error): void {
    for (const slot of this.slots.values()) {
      slot.waiter?.reject(err)
    }
  }

  /** Opens slots inside the window and hands queued chunks to peers with room. */
  pump (): void {
    if (this.signal.aborted) {
      return
    }
    while (this.nextToOpen <= this.last && this.nextToOpen < this.outIndex + this.limits.window) {
      this.open(this.nextToOpen++)
    }
    this.queue.sort((a, b) => a - b)
    const taking = this.takingPeers()
    for (let i = 0; i < this.queue.length;) {
      const slot = this.slots.get(this.queue[i]!)
      if (slot == null || slot.state !== 'queued') {
        this.queue.splice(i, 1)
        continue
      }
      const candidates = this.candidates(slot)
      if (candidates.length === 0) {
        this.queue.splice(i, 1)
        this.parked.park(slot)
        continue
      }
      const peer = cheapest(candidates.filter(p => p.free && taking.has(p)))
      if (peer == null) {
        i++
        continue
      }
      this.queue.splice(i, 1)
      this.start(slot, peer)
    }
    const allRequested = this.nextToOpen > this.last
    if (!allRequested && this.nextToOpen >= this.outIndex + this.limits.window) {
      this.rescue.check(this.slots.get(this.outIndex))
    }
    if (allRequested && this.queue.length === 0) {
      endgame(this)
    }
  }

  /**
   * Peers that take requests in this pass: a peer kept busy gets them in
   * groups of `requestBatch`, which the channel sends as one message (one
   * write here, one wake-up of the peer) instead of one per answer it gives.
   * In flight it keeps between its window minus the group and its window. A
   * peer with fewer than a group in flight is topped up at once.
   */
  private takingPeers (): Set<PeerState> {
    const taking = new Set<PeerState>()
    for (const peer of this.peers.values()) {
      if (peer.capacity >= this.limits.requestBatch || (peer.free && peer.inFlight < this.limits.requestBatch)) {
        taking.add(peer)
      }
    }
    return taking
  }

  candidates (slot: Slot): PeerState[] {
    return [...this.peers.values()].filter(p => !p.dropped && !slot.tried.has(p.key) && !slot.attempts.has(p.key))
  }

  private open (index: number): void {
    const slot = newSlot(index)
    this.slots.set(index, slot)
    for (const [peer, err] of this.unreachable) {
      this.markUnreachable(slot, peer, err)
    }
    this.prepare(slot).catch(err => { this.fail(slot, err as Error) })
  }

  /** Finds the chunk's CID and serves it from the local store when it is there (and intact). */
  private async prepare (slot: Slot): Promise<void> {
    slot.cid = await this.chunks.cidAt(slot.index, this.signal)
    const local = await this.components.storage.get(slot.cid, { signal: this.signal })
    if (local != null && blockMatchesCid(slot.cid, local)) {
      this.stats.localBlocks++
      this.complete(slot, new Uint8ArrayList(local), 'local')
      return
    }
    this.requeue(slot)
    this.pump()
  }

  start (slot: Slot, peer: PeerState): void {
    // aborted when the session ends, or when another peer delivered the chunk first
    const attempt = deadlineSignal(this.signal)
    slot.attempts.set(peer.key, attempt)
    slot.state = 'fetching'
    peer.inFlight++
    let started = performance.now()
    slot.startedAt = started
    // A request held back by this node's own download limit is not late, nor is that wait the peer's latency.
    const onStart = (): void => {
      started = performance.now()
      if (slot.attempts.get(peer.key) === attempt) {
        slot.startedAt = started
      }
    }
    this.components.network.retrieveBlockPieces(peer.peer, slot.cid!, { signal: attempt.signal, timeoutMs: peer.timeoutMs, onStart })
      .then(bytes => {
        slot.attempts.delete(peer.key)
        peer.succeeded(performance.now() - started)
        this.received(slot, peer, bytes)
      }, (err: Error) => {
        slot.attempts.delete(peer.key)
        this.onFailure(slot, peer, err, attempt.signal.aborted)
      })
      .finally(() => {
        attempt.clear()
        peer.inFlight--
        this.pump()
      })
      // both outcomes are handled above (received / onFailure); the session reports failures through its callers
      .catch(() => {})
  }

  private received (slot: Slot, peer: PeerState, bytes: Uint8ArrayList): void {
    this.stats.bytesReceived += bytes.byteLength
    if (!this.used.has(peer.key)) {
      this.used.add(peer.key)
      this.stats.peersUsed++
    }
    if (slot.state === 'done') {
      this.stats.duplicates++
      return
    }
    this.complete(slot, bytes, peer.key)
  }

  private onFailure (slot: Slot, peer: PeerState, err: Error, cancelled: boolean): void {
    if (this.signal.aborted || settled(slot)) {
      return
    }
    if (!cancelled && err instanceof BusyError) {
      this.busy(slot, peer, err)
    } else if (!cancelled) {
      this.onPeerFailed?.(peer.key, slot.cid!, err)
      peer.failed()
      // a timeout may be passing load, a broken connection is dialed again:
      // the peer gets a second try at this chunk (not one that has no direct path)
      const passing = err instanceof TimeoutError || (err instanceof RemoteError && !(err instanceof NoDirectPathError))
      const failures = (slot.passingFailures.get(peer.key) ?? 0) + (passing ? 1 : 0)
      slot.passingFailures.set(peer.key, failures)
      if (!passing || failures >= MAX_PASSING_FAILURES_PER_PEER) {
        slot.tried.add(peer.key)
      }
      (slot.failures ??= new Failures()).add(peer.key, err)
      if (err instanceof IntegrityError || err instanceof ProtocolError) {
        this.drop(peer)
      }
    }
    if (slot.attempts.size === 0) {
      this.parked.remove(slot.index)
      this.requeue(slot)
    }
  }

  /**
   * A peer answered BUSY: it holds the chunk as far as we know, and asked to
   * be left alone for a while. It gets no request until then (other peers
   * take the work meanwhile), its window shrinks as for any failure, and the
   * chunk stays its candidate: only `MAX_BUSY_PER_PEER` BUSY answers for one
   * chunk make it give up on that peer for the chunk. BUSY is no failure of
   * the peer: it is not reported as one.
   */
  private busy (slot: Slot, peer: PeerState, err: BusyError): void {
    peer.failed()
    const restMs = err.retryAfterMs > 0 ? err.retryAfterMs : DEFAULT_BUSY_REST_MS
    const until = Date.now() + restMs
    if (until > peer.restUntil) {
      peer.restUntil = until
      const timer = setTimeout(() => { this.pump() }, restMs + 1)
      // pump() does nothing once the session ended
      timer.unref?.()
    }
    const count = ((slot.busy ??= new Map()).get(peer.key) ?? 0) + 1
    slot.busy.set(peer.key, count)
    if (count >= MAX_BUSY_PER_PEER) {
      slot.tried.add(peer.key);
      (slot.failures ??= new Failures()).add(peer.key, err)
    }
  }

  /**
   * Stops giving work to a peer that lied or broke the protocol. Its requests
   * still in flight are asked of another peer at once; they are left running
   * too (every block is verified, so a right answer from it is still usable,
   * and it is the only hope when nobody else holds the chunk).
   */
  private drop (peer: PeerState): void {
    peer.dropped = true
    for (const slot of this.slots.values()) {
      if (slot.attempts.has(peer.key) && slot.attempts.size === 1 && this.candidates(slot).length > 0) {
        this.requeue(slot)
      }
    }
  }

  requeue (slot: Slot): void {
    if (settled(slot)) {
      return
    }
    slot.state = 'queued'
    this.queue.push(slot.index)
  }

  private complete (slot: Slot, bytes: Uint8ArrayList, from: string): void {
    slot.bytes = bytes
    slot.from = from
    slot.state = 'done'
    for (const attempt of slot.attempts.values()) {
      attempt.abort()
    }
    slot.waiter?.resolve()
  }

  fail (slot: Slot, err: Error): void {
    if (settled(slot)) {
      return
    }
    slot.state = 'failed'
    slot.error = err
    slot.waiter?.reject(err)
  }
}
