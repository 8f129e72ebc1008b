import { setMaxListeners } from 'node:events'
import type { PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import { Uint8ArrayList } from 'uint8arraylist'
import { blockMatchesCid, cidToString } from '../cid.js'
import { IntegrityError, NotFoundError, ProtocolError, TimeoutError, abortReason, AbortError } from '../errors.js'

/** Timeouts of one peer for one chunk before the chunk is asked of others only. */
const MAX_TIMEOUTS_PER_PEER = 2
/** A chunk at the head of the window is late once its request has taken this many times its peer's usual answer time. */
const LATE_FACTOR = 2
import { PeerState, type PeerWindowLimits } from './peer-state.js'
import type { RetrievalComponents } from './index.js'
import { deadlineSignal, type DeadlineSignal } from '../signals.js'

/** The chunk CIDs of one content, read on demand (a manifest tree loads its nodes lazily). */
export interface ChunkList {
  readonly count: number
  cidAt(index: number, signal: AbortSignal): Promise<CID>
}

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
interface Slot {
  index: number
  cid?: CID
  state: 'preparing' | 'queued' | 'fetching' | 'parked' | 'done' | 'failed'
  attempts: Map<string, DeadlineSignal>
  tried: Set<string>
  integrity: boolean
  /** True once the DHT has been searched for this chunk's holders. */
  searched: boolean
  /** Timeouts per peer for this chunk. */
  timeouts: Map<string, number>
  reasons: string[]
  /** When the chunk was last handed to a peer (performance.now()). */
  startedAt?: number
  /** True once the chunk was asked of a second peer because its first was late. */
  rescued: boolean
  bytes?: Uint8ArrayList
  from?: string
  error?: Error
  waiter?: { resolve: () => void, reject: (err: Error) => void }
}

/** What one delivered chunk looks like to the consumer. */
export interface DeliveredChunk {
  index: number
  cid: CID
  /** The verified chunk, in the pieces it arrived in. */
  bytes: Uint8ArrayList
  from: string
}

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
export class RetrievalSession {
  readonly stats: SessionStats = { bytesReceived: 0, duplicates: 0, rescued: 0, localBlocks: 0, peersUsed: 0 }
  private readonly components: RetrievalComponents
  private readonly limits: SessionLimits
  private readonly chunks: ChunkList
  private readonly first: number
  private readonly last: number
  private readonly peers = new Map<string, PeerState>()
  private readonly known = new Set<string>()
  private readonly used = new Set<string>()
  private readonly slots = new Map<number, Slot>()
  private readonly queue: number[] = []
  private readonly parked = new Set<number>()
  private readonly controller = new AbortController()
  private readonly signal: AbortSignal
  private readonly callerSignal?: AbortSignal
  private nextToOpen: number
  private outIndex: number
  private searching = false
  private rescueTimer?: ReturnType<typeof setTimeout>
  private rescueDue = 0
  private readonly onPeerFailed?: (peer: string, cid: CID, err: Error) => void

  constructor (components: RetrievalComponents, limits: SessionLimits, chunks: ChunkList, range: { first: number, last: number }, signal?: AbortSignal, onPeerFailed?: (peer: string, cid: CID, err: Error) => void) {
    this.onPeerFailed = onPeerFailed
    this.components = components
    this.limits = limits
    this.chunks = chunks
    this.first = range.first
    this.last = range.last
    this.nextToOpen = range.first
    this.outIndex = range.first
    this.callerSignal = signal
    this.signal = signal != null ? AbortSignal.any([signal, this.controller.signal]) : this.controller.signal
    // every request in flight listens to it (see deadlineSignal)
    setMaxListeners(Infinity, this.signal)
  }

  /** Adds a peer that may hold the content. Returns false if it is known, banned or over the limit. */
  addPeer (peer: PeerId): boolean {
    const key = peer.toString()
    const active = [...this.peers.values()].filter(p => !p.dropped).length
    if (this.known.has(key) || this.components.network.isBanned(peer) || active >= this.limits.maxPeers) {
      return false
    }
    this.known.add(key)
    this.peers.set(key, new PeerState(peer, this.limits))
    // chunks that no peer could serve get another chance with this one
    for (const index of this.parked) {
      this.parked.delete(index)
      this.requeue(this.slots.get(index)!)
    }
    this.pump()
    return true
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
      clearTimeout(this.rescueTimer)
      this.controller.abort(new AbortError('the retrieval ended'))
      for (const slot of this.slots.values()) {
        slot.waiter?.reject(new AbortError('the retrieval ended'))
      }
      this.slots.clear()
    }
  }

  private async wait (slot: Slot): Promise<void> {
    if (this.signal.aborted) {
      throw abortReason(this.signal, 'retrieve')
    }
    if (slot.state !== 'done' && slot.state !== 'failed') {
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => { reject(abortReason(this.signal, 'retrieve')) }
        this.signal.addEventListener('abort', onAbort, { once: true })
        slot.waiter = {
          resolve: () => { this.signal.removeEventListener('abort', onAbort); resolve() },
          reject: (err) => { this.signal.removeEventListener('abort', onAbort); reject(err) }
        }
      })
    }
    if (slot.state === 'failed') {
      throw slot.error!
    }
  }

  /** Opens slots inside the window and hands queued chunks to peers with room. */
  private pump (): void {
    if (this.signal.aborted) {
      return
    }
    while (this.nextToOpen <= this.last && this.nextToOpen < this.outIndex + this.limits.window) {
      this.open(this.nextToOpen++)
    }
    this.queue.sort((a, b) => a - b)
    // Peers that take requests in this pass: a peer kept busy gets them in
    // groups of `requestBatch`, which the channel sends as one message (one
    // write here, one wake-up of the peer) instead of one per answer it
    // gives. In flight it keeps between its window minus the group and its
    // window. A peer with fewer than a group in flight is topped up at once.
    const taking = new Set<PeerState>()
    for (const peer of this.peers.values()) {
      if (peer.capacity >= this.limits.requestBatch || (peer.free && peer.inFlight < this.limits.requestBatch)) {
        taking.add(peer)
      }
    }
    for (let i = 0; i < this.queue.length;) {
      const slot = this.slots.get(this.queue[i]!)
      if (slot == null || slot.state !== 'queued') {
        this.queue.splice(i, 1)
        continue
      }
      const candidates = this.candidates(slot)
      if (candidates.length === 0) {
        this.queue.splice(i, 1)
        this.park(slot)
        continue
      }
      const peer = best(candidates.filter(p => p.free && taking.has(p)))
      if (peer == null) {
        i++
        continue
      }
      this.queue.splice(i, 1)
      this.start(slot, peer)
    }
    this.rescueHead()
    this.endgame()
  }

  /**
   * The window is full, every chunk in it has been asked for, and the chunk
   * the output waits for has been with its peer for more than
   * LATE_FACTOR times that peer's usual answer time (or, for a peer that has
   * not answered yet, the quickest peer's): that peer is late (slow to
   * start, or overloaded) and holds up everything behind it. A free peer is
   * asked too; the first answer wins, as in the endgame. At most one
   * duplicate per chunk, and only for the chunk at the head of the window.
   */
  private rescueHead (): void {
    if (this.nextToOpen > this.last || this.nextToOpen < this.outIndex + this.limits.window) {
      return
    }
    const slot = this.slots.get(this.outIndex)
    if (slot == null || slot.state !== 'fetching' || slot.rescued || slot.attempts.size !== 1 || slot.startedAt == null) {
      return
    }
    const holder = this.peers.get(slot.attempts.keys().next().value!)
    const usual = holder?.latencyMs ?? Math.min(...[...this.peers.values()].map(p => p.latencyMs ?? Infinity))
    if (!Number.isFinite(usual)) {
      return
    }
    const elapsed = performance.now() - slot.startedAt
    const lateIn = LATE_FACTOR * usual - elapsed
    if (lateIn > 0) {
      // nothing else may happen before then (the late peer may hold everything in flight)
      this.scheduleRescue(lateIn)
      return
    }
    const peer = best(this.candidates(slot).filter(p => p.free))
    if (peer != null) {
      slot.rescued = true
      this.stats.rescued++
      // the late peer gets less work until it catches up
      holder?.late(elapsed)
      this.start(slot, peer)
    }
  }

  /** Runs the scheduler again in `ms` (or sooner, if a check is already due sooner). */
  private scheduleRescue (ms: number): void {
    const due = performance.now() + ms
    if (this.rescueTimer != null && this.rescueDue <= due) {
      return
    }
    clearTimeout(this.rescueTimer)
    this.rescueDue = due
    this.rescueTimer = setTimeout(() => {
      this.rescueTimer = undefined
      this.pump()
    }, Math.ceil(ms))
    this.rescueTimer.unref?.()
  }

  /**
   * Once every chunk of the range has been requested, idle peers race the
   * slowest outstanding requests; the first answer wins and the other request
   * is cancelled. At most one duplicate per chunk.
   */
  private endgame (): void {
    if (this.nextToOpen <= this.last || this.queue.length > 0) {
      return
    }
    for (const slot of this.slots.values()) {
      if (slot.state !== 'fetching' || slot.attempts.size !== 1) {
        continue
      }
      const peer = best(this.candidates(slot).filter(p => p.free && p.inFlight === 0))
      if (peer != null) {
        this.start(slot, peer)
      }
    }
  }

  private candidates (slot: Slot): PeerState[] {
    return [...this.peers.values()].filter(p => !p.dropped && !slot.tried.has(p.key) && !slot.attempts.has(p.key))
  }

  private open (index: number): void {
    const slot: Slot = { index, state: 'preparing', attempts: new Map(), tried: new Set(), integrity: false, searched: false, rescued: false, timeouts: new Map(), reasons: [] }
    this.slots.set(index, slot)
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

  private start (slot: Slot, peer: PeerState): void {
    // aborted when the session ends, or when another peer delivered the chunk first
    const attempt = deadlineSignal(this.signal)
    slot.attempts.set(peer.key, attempt)
    slot.state = 'fetching'
    peer.inFlight++
    const started = performance.now()
    slot.startedAt = started
    this.components.network.retrieveBlockPieces(peer.peer, slot.cid!, { signal: attempt.signal, timeoutMs: peer.timeoutMs })
      .then(bytes => {
        slot.attempts.delete(peer.key)
        peer.succeeded(performance.now() - started)
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
      }, (err: Error) => {
        slot.attempts.delete(peer.key)
        this.onFailure(slot, peer, err, attempt.signal.aborted)
      })
      .finally(() => {
        attempt.clear()
        peer.inFlight--
        this.pump()
      })
      .catch(() => {})
  }

  private onFailure (slot: Slot, peer: PeerState, err: Error, cancelled: boolean): void {
    if (this.signal.aborted || slot.state === 'done' || slot.state === 'failed') {
      return
    }
    if (!cancelled) {
      this.onPeerFailed?.(peer.key, slot.cid!, err)
      peer.failed()
      // a timeout may be passing load: the peer gets a second try at this chunk
      const timeouts = (slot.timeouts.get(peer.key) ?? 0) + (err instanceof TimeoutError ? 1 : 0)
      slot.timeouts.set(peer.key, timeouts)
      if (!(err instanceof TimeoutError) || timeouts >= MAX_TIMEOUTS_PER_PEER) {
        slot.tried.add(peer.key)
      }
      slot.reasons.push(`${peer.key}: ${err.name}`)
      if (err instanceof IntegrityError) {
        slot.integrity = true
      }
      if (err instanceof IntegrityError || err instanceof ProtocolError) {
        this.drop(peer)
      }
    }
    if (slot.attempts.size === 0) {
      this.parked.delete(slot.index)
      this.requeue(slot)
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

  private requeue (slot: Slot): void {
    if (slot.state === 'done' || slot.state === 'failed') {
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

  private fail (slot: Slot, err: Error): void {
    if (slot.state === 'done' || slot.state === 'failed') {
      return
    }
    slot.state = 'failed'
    slot.error = err
    slot.waiter?.reject(err)
  }

  /** No known peer can serve this chunk: look for more holders (one search at a time). */
  private park (slot: Slot): void {
    slot.state = 'parked'
    this.parked.add(slot.index)
    this.searchNext()
    if (!this.searching) {
      // nothing left to search for: settle now rather than wait forever
      this.settleParked()
    }
  }

  private searchNext (): void {
    if (this.searching || this.signal.aborted) {
      return
    }
    const slot = [...this.parked].sort((a, b) => a - b).map(i => this.slots.get(i)).find(s => s != null && !s.searched)
    if (slot == null) {
      return
    }
    slot.searched = true
    this.searching = true
    this.search(slot.cid!).finally(() => {
      this.searching = false
      this.settleParked()
      this.searchNext()
      this.pump()
    }).catch(() => {})
  }

  private async search (cid: CID): Promise<void> {
    const timeout = AbortSignal.timeout(this.limits.providerTimeoutMs)
    const signal = AbortSignal.any([this.signal, timeout])
    try {
      for await (const provider of this.components.discovery.findProviders(cid, this.limits.maxProviders, { signal })) {
        await this.components.addPeerAddresses?.(provider.peerId, provider.multiaddrs)
        this.addPeer(provider.peerId)
      }
    } catch {
      // a failed or timed-out search just finds nobody new
    }
    if (this.signal.aborted) {
      return
    }
    for (const peer of this.components.connectedPeers?.() ?? []) {
      this.addPeer(peer)
    }
  }

  /**
   * After a search: a parked chunk that now has a peer to try goes back in the
   * queue; one not searched for yet waits for its own search; one that was
   * searched for and still has nobody fails with the reasons its peers gave.
   */
  private settleParked (): void {
    for (const index of this.parked) {
      const slot = this.slots.get(index)
      if (slot == null) {
        this.parked.delete(index)
        continue
      }
      if (this.candidates(slot).length > 0) {
        this.parked.delete(index)
        this.requeue(slot)
        continue
      }
      if (!slot.searched || slot.attempts.size > 0) {
        // wait for its own search, or for the request still in flight
        continue
      }
      this.parked.delete(index)
      const tried = slot.reasons.length === 0 ? 'no provider was found' : `tried ${slot.reasons.join(', ')}`
      const cid = cidToString(slot.cid!)
      this.fail(slot, slot.integrity
        ? new IntegrityError(`no peer sent valid bytes for ${cid} (${tried})`)
        : new NotFoundError(`no reachable peer holds ${cid} (${tried}); check that a node holding it is online and connected to this network`))
    }
  }
}

function best (peers: PeerState[]): PeerState | undefined {
  let chosen: PeerState | undefined
  for (const peer of peers) {
    if (chosen == null || peer.cost < chosen.cost) {
      chosen = peer
    }
  }
  return chosen
}
