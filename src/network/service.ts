import type { Connection, PeerId, Startable, Stream } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import { multiaddr } from '@multiformats/multiaddr'
import PQueue from 'p-queue'
import { Uint8ArrayList } from 'uint8arraylist'
import { cidToString, piecesMatchCid } from '../cid.js'
import {
  BusyError, IntegrityError, InvalidInputError, NoDirectPathError, NotFoundError, ProtocolError, RejectedError, RemoteError, TimeoutError,
  abortReason, throwIfAborted
} from '../errors.js'
import { Status, statusName, type ResponseMessage } from '../pb/index.js'
import { PeerChannel } from './channel.js'
import { serveStream, serverState, type ServerState } from './server.js'
import { componentLog, silentLog, type DdsLogger } from '../log/index.js'
import { PeerScores } from './scores.js'
import {
  DEFAULT_CATALOG_PAGE_SIZE, MAX_CATALOG_PAGE_SIZE, MAX_PEER_TEXT_LENGTH, MAX_RETRY_AFTER_MS, PENALTY_PROTOCOL_VIOLATION, PENALTY_TIMEOUT, PENALTY_WRONG_BYTES
} from './constants.js'
import type { HandlerContext } from './handlers.js'
import type { CatalogRequestOptions, NetworkComponents, NetworkService, RequestOptions, ResolvedNetworkInit } from './index.js'
import { decodeCatalogEntry, type CatalogItem } from './catalog.js'
import type { ReceivedResponse } from './response.js'
import { requestTurn, type BandwidthStats } from './bandwidth.js'
import { UploadShares } from './shares.js'

/** Suffix of the channel key of a peer's channel that may use relayed connections. */
const RELAYED = '#relayed'

/** The NetworkService implementation; created through `networkService()`. */
export class DdsNetworkService implements NetworkService, Startable {
  readonly scores: PeerScores
  readonly served = { blocks: 0, bytes: 0 }
  readonly maxStoredBytes: number
  private readonly components: NetworkComponents
  private readonly init: ResolvedNetworkInit
  /** One channel per peer, keyed by peer id (direct connections only) or `<peer id>#relayed` (any connection, relayed ones included). */
  private readonly channels = new Map<string, PeerChannel>()
  private readonly serverState: ServerState
  private readonly log: DdsLogger
  private readonly handlerContext: HandlerContext
  private started = false
  /** True from just before the handler is registered until `stop()` begins: streams arriving otherwise are reset. */
  private serving = false

  constructor (components: NetworkComponents, init: ResolvedNetworkInit) {
    this.components = components
    this.log = components.logger != null ? componentLog(components.logger, 'dds:network') : silentLog
    this.init = init
    this.maxStoredBytes = init.maxStoredBytes
    const paced = init.fairUpload && components.bandwidth?.stats.limits.upload == null
    this.serverState = { ...serverState(), bandwidth: components.bandwidth, shares: paced ? new UploadShares() : undefined }
    this.scores = new PeerScores(init.banDurationMs, Date.now, (peer, reason) => { this.cutOff(peer, reason) })
    this.handlerContext = {
      storage: components.storage,
      scores: this.scores,
      storePolicy: init.storePolicy,
      maxBlockSize: init.maxBlockSize,
      maxStoredBytes: init.maxStoredBytes,
      storeQueue: new PQueue({ concurrency: 1 }),
      onBlockStored: init.onBlockStored,
      onReplicate: init.onReplicate,
      served: this.served,
      catalogPolicy: init.catalogPolicy,
      onCatalog: init.onCatalog
    }
  }

  async start (): Promise<void> {
    if (this.started) {
      return
    }
    this.serving = true
    this.components.libp2p.addEventListener('connection:open', this.refuseBanned)
    await this.components.libp2p.handle(this.init.protocol, (stream: Stream, connection: Connection) => {
      if (!this.serving) {
        stream.abort(new RemoteError('the DDS service is stopping'))
        return
      }
      serveStream(stream, connection, this.handlerContext, this.init, this.serverState)
    }, {
      maxInboundStreams: this.init.maxInboundStreams,
      maxOutboundStreams: this.init.maxOutboundStreams,
      // small requests (manifests, catalog pages, replication instructions)
      // are answered on relayed connections; chunks are not (see serveStream)
      runOnLimitedConnection: true
    })
    this.started = true
  }

  async stop (): Promise<void> {
    if (!this.started) {
      return
    }
    this.started = false
    this.serving = false
    this.components.libp2p.removeEventListener('connection:open', this.refuseBanned)
    try {
      await this.components.libp2p.unhandle(this.init.protocol)
    } finally {
      this.abortInbound()
      for (const channel of this.channels.values()) {
        channel.close()
      }
      this.channels.clear()
      this.serverState.whenPeerDone.clear()
    }
  }

  /**
   * Closes every connection to a peer that was just banned, once the
   * requests this node had sent it are answered or given up on (a verified
   * block from it is still good, and may be the only copy) and the answers
   * this node was working out for it are handed over (the INVALID that got
   * it banned among them), at the latest after `requestTimeoutMs`. The close
   * is libp2p's orderly one, so those answers leave before the socket shuts;
   * an abort follows if it fails. From the ban on, the peer is neither served
   * nor asked, and a node DDS created refuses its new connections in its
   * connection gater (see `createDdsLibp2p`'s `isBanned`); on any node,
   * `refuseBanned` closes one that opens anyway.
   */
  private cutOff (peer: string, reason: string): void {
    this.log.warn('peer banned', { peer, reason, minutes: Math.round(this.init.banDurationMs / 60_000) })
    const channel = this.channels.get(peer)
    const relayed = this.channels.get(`${peer}${RELAYED}`)
    this.channels.delete(peer)
    this.channels.delete(`${peer}${RELAYED}`)
    let done = false
    const disconnect = (): void => {
      if (done) {
        return
      }
      done = true
      clearTimeout(latest)
      channel?.close()
      relayed?.close()
      for (const connection of this.components.libp2p.getConnections()) {
        if (connection.remotePeer.toString() === peer) {
          connection.close().catch((err: Error) => {
            connection.abort(new ProtocolError(`peer ${peer} is banned (${reason}); closing its connection failed: ${err.message}`))
          })
        }
      }
    }
    const latest = setTimeout(disconnect, this.init.requestTimeoutMs)
    latest.unref?.()
    const sent = new Promise<void>(resolve => {
      // Deferred: a ban is decided inside a channel's own callbacks.
      queueMicrotask(() => {
        let waiting = 0
        const one = (): void => { if (--waiting <= 0) resolve() }
        for (const c of [channel, relayed]) {
          if (c != null) {
            waiting++
            c.whenIdle(one)
          }
        }
        if (waiting === 0) resolve()
      })
    })
    const owed = new Promise<void>(resolve => {
      if (!this.serverState.perPeer.has(peer)) {
        resolve()
        return
      }
      const before = this.serverState.whenPeerDone.get(peer)
      this.serverState.whenPeerDone.set(peer, () => { before?.(); resolve() })
    })
    void Promise.all([sent, owed]).then(disconnect)
  }

  /**
   * Closes a connection to a banned peer as soon as it opens: what keeps a
   * banned peer off a libp2p node that has no gater asking `isBanned` (one
   * given to `Dds.create`), and off any node when a ban lands while the
   * connection was still being set up. One lookup per connection, none per
   * request.
   */
  private readonly refuseBanned = (event: CustomEvent<Connection>): void => {
    const connection = event.detail
    const peer = connection.remotePeer.toString()
    if (this.scores.isBanned(peer)) {
      connection.abort(new ProtocolError(`peer ${peer} is banned: ${this.scores.standing(peer).lastReason}`))
    }
  }

  private abortInbound (): void {
    // Reset every inbound stream: its handlers are told through their
    // signals, its reader and idle check stop, and nothing more is answered
    // from a store that is about to close (the libp2p node may live on).
    for (const stream of [...this.serverState.streams]) {
      stream.abort(new RemoteError('the DDS service stopped'))
    }
    this.serverState.streams.clear()
  }

  async retrieveBlock (peer: PeerId, cid: CID, options: RequestOptions = {}): Promise<Uint8Array> {
    return (await this.retrieveBlockPieces(peer, cid, options)).subarray()
  }

  async retrieveBlockPieces (peer: PeerId, cid: CID, options: RequestOptions = {}): Promise<Uint8ArrayList> {
    const { response, chunkData } = await this.send(peer, { retrieveChunk: { cid: cid.bytes } }, options)
    const body = this.expect(peer, response, 'retrieveChunk')
    this.throwForStatus(peer, body.status, body.error, cid, response)
    const data = chunkData ?? new Uint8ArrayList()
    if (!piecesMatchCid(cid, data)) {
      this.scores.penalise(peer.toString(), PENALTY_WRONG_BYTES, `sent bytes that do not match ${cidToString(cid)}`)
      throw new IntegrityError(`peer ${peer.toString()} sent ${data.byteLength} bytes that do not hash to ${cidToString(cid)}; they were discarded`)
    }
    this.scores.reward(peer.toString())
    return data
  }

  async storeBlock (peer: PeerId, cid: CID, bytes: Uint8Array, options: RequestOptions = {}): Promise<void> {
    const { response } = await this.send(peer, { storeChunk: { cid: cid.bytes, data: bytes } }, options)
    const body = this.expect(peer, response, 'storeChunk')
    this.throwForStatus(peer, body.status, body.error, cid, response)
  }

  async replicate (peer: PeerId, cid: CID, sources: PeerId[], options: RequestOptions = {}): Promise<void> {
    const { response } = await this.send(peer, {
      replicate: { cid: cid.bytes, sourcePeerIds: sources.map(p => p.toMultihash().bytes) }
    }, { relayed: true, ...options })
    const body = this.expect(peer, response, 'replicate')
    this.throwForStatus(peer, body.status, body.error, cid, response)
  }

  async catalog (peer: PeerId, options: CatalogRequestOptions = {}): Promise<{ items: CatalogItem[], more: boolean }> {
    const limit = options.limit ?? DEFAULT_CATALOG_PAGE_SIZE
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_CATALOG_PAGE_SIZE) {
      throw new InvalidInputError(`limit must be an integer from 1 to ${MAX_CATALOG_PAGE_SIZE}, got ${String(options.limit)}`)
    }
    const { response } = await this.send(peer, { catalog: { after: options.after?.bytes ?? new Uint8Array(0), limit } }, { relayed: true, ...options })
    const body = this.expect(peer, response, 'catalog')
    if (body.status === Status.REJECTED) {
      throw new RejectedError(`peer ${peer.toString()} does not share its catalog with this node${body.error != null && body.error !== '' ? `: ${peerText(body.error)}` : ''}`)
    }
    if (body.status === Status.BUSY) {
      throw busyError(peer, response, `to a catalog request: ${peerText(body.error)}`)
    }
    if (body.status !== Status.OK) {
      throw new RemoteError(`peer ${peer.toString()} answered ${statusName(body.status)} to a catalog request: ${peerText(body.error)}`)
    }
    const entries = body.entries ?? []
    if (entries.length > limit) {
      this.scores.penalise(peer.toString(), PENALTY_PROTOCOL_VIOLATION, `sent ${entries.length} catalog entries where ${limit} were asked for`)
      throw new ProtocolError(`peer ${peer.toString()} sent ${entries.length} catalog entries where at most ${limit} were asked for`)
    }
    const items: CatalogItem[] = []
    for (const [i, entry] of entries.entries()) {
      try {
        items.push(decodeCatalogEntry(entry))
      } catch (err) {
        this.scores.penalise(peer.toString(), PENALTY_PROTOCOL_VIOLATION, `sent an invalid catalog entry: ${(err as Error).message}`)
        throw new ProtocolError(`peer ${peer.toString()} sent an invalid catalog entry (${i}): ${(err as Error).message}`, { cause: err })
      }
    }
    return { items, more: body.more === true }
  }

  get bandwidth (): BandwidthStats {
    const stats = this.components.bandwidth?.stats ?? { limits: {}, upload: { bytes: 0, waits: 0, waitMs: 0 }, download: { bytes: 0, waits: 0, waitMs: 0 } }
    const pacing = this.serverState.shares?.stats
    return pacing == null ? stats : { ...stats, pacing: { ...pacing } }
  }

  isBanned (peer: PeerId): boolean {
    return this.scores.isBanned(peer.toString())
  }

  pathTo (peer: PeerId): 'direct' | 'relayed' | 'none' {
    const open = this.components.libp2p.getConnections(peer).filter(c => c.status === 'open')
    return open.length === 0 ? 'none' : open.some(c => c.limits == null) ? 'direct' : 'relayed'
  }

  async openDirect (peer: PeerId, signal?: AbortSignal): Promise<void> {
    const what = `the connection to ${peer.toString()}`
    throwIfAborted(signal, what)
    const timeout = AbortSignal.timeout(this.init.requestTimeoutMs + this.init.directWaitMs)
    const combined = signal == null ? timeout : AbortSignal.any([signal, timeout])
    try {
      await this.directConnection(peer, combined)
    } catch (err) {
      if (signal?.aborted === true) {
        throw abortReason(signal, what)
      }
      if (err instanceof RemoteError) {
        throw err
      }
      throw new RemoteError(`could not reach peer ${peer.toString()}: ${(err as Error).message}`, { cause: err })
    }
  }

  private channel (peer: PeerId, relayed: boolean): PeerChannel {
    const peerKey = peer.toString()
    const key = relayed ? `${peerKey}${RELAYED}` : peerKey
    let channel = this.channels.get(key)
    if (channel == null) {
      const bandwidth = this.components.bandwidth
      channel = new PeerChannel({
        open: relayed
          ? async (signal) => this.openAny(peer, signal)
          : async (signal) => (await this.directConnection(peer, signal)).newStream(this.init.protocol, { signal }),
        onViolation: (reason) => { this.scores.penalise(peerKey, PENALTY_PROTOCOL_VIOLATION, reason) },
        onTimeout: () => { this.scores.penalise(peerKey, PENALTY_TIMEOUT, 'a request timed out') },
        ...(bandwidth != null
          ? {
              turn: (body, signal) => requestTurn(bandwidth, peerKey, body, signal),
              settle: (reserved, received) => { bandwidth.settleDownload(reserved, received) }
            }
          : {})
      }, {
        maxFrameSize: this.init.maxFrameSize,
        maxInFlight: this.init.maxInFlightPerPeer,
        idleTimeoutMs: this.init.idleTimeoutMs,
        openTimeoutMs: this.init.requestTimeoutMs
      })
      this.channels.set(key, channel)
    }
    return channel
  }

  /**
   * A stream on any open connection to `peer`, a direct one if there is one,
   * else a relayed one; a new connection when there is none.
   */
  private async openAny (peer: PeerId, signal: AbortSignal): Promise<Stream> {
    const open = this.components.libp2p.getConnections(peer).filter(c => c.status === 'open')
    const connection = open.find(c => c.limits == null) ?? open[0]
    if (connection != null) {
      return connection.newStream(this.init.protocol, { signal, runOnLimitedConnection: true })
    }
    return this.components.libp2p.dialProtocol(peer, this.init.protocol, { signal, runOnLimitedConnection: true })
  }

  /**
   * A direct (not relayed) connection to `peer`: an open one, or one dialed
   * now. When the only way there is a relay, waits up to `directWaitMs` for
   * a direct connection to open (hole punching, or the peer dialing back),
   * then gives up with NoDirectPathError.
   */
  private async directConnection (peer: PeerId, signal: AbortSignal): Promise<Connection> {
    const libp2p = this.components.libp2p
    const open = (): Connection[] => libp2p.getConnections(peer).filter(c => c.status === 'open')
    const existing = open().find(c => c.limits == null)
    if (existing != null) {
      return existing
    }
    const dialDirect = async (dialSignal: AbortSignal): Promise<Connection> => {
      const dialed = await libp2p.dial(peer, { signal: dialSignal })
      if (dialed.limits != null) {
        throw new Error('the only connection is relayed')
      }
      return dialed
    }
    if (!open().some(c => c.limits != null)) {
      // no connection at all: a dial gives a direct connection, or a relayed one to punch through
      try {
        return await dialDirect(signal)
      } catch (err) {
        signal.throwIfAborted()
        if (!open().some(c => c.limits != null)) {
          throw new RemoteError(`could not reach peer ${peer.toString()}: ${(err as Error).message}`, { cause: err })
        }
      }
    }
    const since = Date.now()
    const waiting = AbortSignal.any([signal, AbortSignal.timeout(this.init.directWaitMs)])
    // The only connection is relayed. Hole punching (a WebRTC connection
    // negotiated through it), a dial of the peer's other addresses and any
    // direct connection opening meanwhile (DCUtR, the peer dialing back)
    // race; the first direct connection wins.
    const found = await Promise.any([
      this.punch(peer, waiting),
      dialDirect(waiting),
      this.waitForDirect(peer, waiting).then(c => c ?? Promise.reject(new Error('no direct connection')))
    ]).catch(() => undefined)
    if (found != null) {
      return found
    }
    signal.throwIfAborted()
    throw new NoDirectPathError(`peer ${peer.toString()} is reachable only through a relay, and no direct connection to it opened within ${Date.now() - since} ms (dialing its addresses and hole punching both failed: it may be behind a NAT that does not let peers in); chunks move only over direct connections`)
  }

  /**
   * Dials `peer` over WebRTC through a relayed connection to it (the SDP
   * exchange crosses the relay, the data does not); the connection that
   * results is direct.
   */
  private async punch (peer: PeerId, signal: AbortSignal): Promise<Connection> {
    const relayed = this.components.libp2p.getConnections(peer).find(c => c.status === 'open' && c.limits != null && c.remoteAddr.toString().includes('/p2p-circuit'))
    if (relayed == null) {
      throw new Error('no relayed connection to punch through')
    }
    const circuit = relayed.remoteAddr.toString().replace(/\/p2p\/[^/]+$/, '')
    const connection = await this.components.libp2p.dial(multiaddr(`${circuit}/webrtc/p2p/${peer.toString()}`), { signal })
    if (connection.limits != null) {
      throw new Error('the WebRTC connection is limited')
    }
    return connection
  }

  private async waitForDirect (peer: PeerId, signal: AbortSignal): Promise<Connection | undefined> {
    const libp2p = this.components.libp2p
    return new Promise<Connection | undefined>((resolve) => {
      const finish = (connection: Connection | undefined): void => {
        clearTimeout(timer)
        libp2p.removeEventListener('connection:open', onOpen)
        signal.removeEventListener('abort', onAbort)
        resolve(connection)
      }
      const onOpen = (evt: CustomEvent<Connection>): void => {
        if (evt.detail.limits == null && evt.detail.remotePeer.equals(peer)) {
          finish(evt.detail)
        }
      }
      const onAbort = (): void => { finish(undefined) }
      const timer = setTimeout(() => { finish(undefined) }, this.init.directWaitMs)
      timer.unref?.()
      libp2p.addEventListener('connection:open', onOpen)
      signal.addEventListener('abort', onAbort, { once: true })
      const now = libp2p.getConnections(peer).find(c => c.status === 'open' && c.limits == null)
      if (now != null) {
        finish(now)
      }
    })
  }

  /**
   * Sends one request. Its deadline (`timeoutMs`) starts once the request has
   * a slot on the peer's channel, so time queued behind our own in-flight
   * limit is never blamed on the peer; only a request that was sent and not
   * answered in time penalises it (through the channel's `onTimeout`).
   */
  private async send (peer: PeerId, body: Parameters<PeerChannel['request']>[0], options: RequestOptions): Promise<ReceivedResponse> {
    if (!this.started) {
      throw new RemoteError('the network service is stopped')
    }
    const what = `the request to ${peer.toString()}`
    throwIfAborted(options.signal, what)
    const timeoutMs = options.timeoutMs ?? this.init.requestTimeoutMs
    if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) {
      throw new InvalidInputError(`timeoutMs must be a positive number, got ${String(options.timeoutMs)}`)
    }
    try {
      return await this.channel(peer, options.relayed === true).request(body, { signal: options.signal, timeoutMs, onStart: options.onStart })
    } catch (err) {
      if (options.signal?.aborted === true) {
        throw abortReason(options.signal, what)
      }
      if (err instanceof TimeoutError) {
        throw new TimeoutError(`peer ${peer.toString()} did not answer within ${timeoutMs} ms`, { cause: err })
      }
      // NoDirectPathError is a RemoteError: it reaches the caller as it is
      if (err instanceof ProtocolError || err instanceof RemoteError) {
        throw err
      }
      throw new RemoteError(`could not reach peer ${peer.toString()}: ${(err as Error).message}`, { cause: err })
    }
  }

  private expect<K extends 'retrieveChunk' | 'storeChunk' | 'replicate' | 'catalog'> (peer: PeerId, response: ResponseMessage, kind: K): NonNullable<ResponseMessage[K]> {
    if (response.body === kind && response[kind] != null) {
      return response[kind] as NonNullable<ResponseMessage[K]>
    }
    if (response.body === 'error') {
      if (response.error?.status === Status.BUSY) {
        throw busyError(peer, response, peerText(response.error?.error))
      }
      throw new RemoteError(`peer ${peer.toString()} answered ${statusName(response.error?.status)}: ${peerText(response.error?.error)}`)
    }
    this.scores.penalise(peer.toString(), PENALTY_PROTOCOL_VIOLATION, `answered a ${kind} request with ${String(response.body)}`)
    throw new ProtocolError(`peer ${peer.toString()} answered a ${kind} request with a ${String(response.body)} response`)
  }

  private throwForStatus (peer: PeerId, status: Status | null | undefined, error: string | null | undefined, cid: CID, response: ResponseMessage): void {
    const detail = error != null && error !== '' ? `: ${peerText(error)}` : ''
    switch (status) {
      case Status.OK:
        return
      case Status.NOT_FOUND:
        throw new NotFoundError(`peer ${peer.toString()} does not hold ${cidToString(cid)}${detail}`)
      case Status.REJECTED:
        throw new RejectedError(`peer ${peer.toString()} rejected the request for ${cidToString(cid)}${detail}`)
      case Status.BUSY:
        throw busyError(peer, response, `for ${cidToString(cid)}${detail}`)
      default:
        throw new RemoteError(`peer ${peer.toString()} answered ${statusName(status)} for ${cidToString(cid)}${detail}`)
    }
  }
}

/**
 * The error for a BUSY answer, with the wait the peer asked for (bounded by
 * `MAX_RETRY_AFTER_MS`, so a peer cannot park a requester for long).
 */
export function busyError (peer: PeerId, response: ResponseMessage, detail: string): BusyError {
  const asked = response.retryAfterMs ?? 0
  const retryAfterMs = Math.min(Number.isFinite(asked) && asked > 0 ? asked : 0, MAX_RETRY_AFTER_MS)
  const wait = retryAfterMs > 0 ? ` (retry after ${retryAfterMs} ms)` : ''
  return new BusyError(`peer ${peer.toString()} answered BUSY ${detail}${wait}`, retryAfterMs)
}

/**
 * Text a peer sent (an `error` field may be up to a frame long), made safe to
 * put in an error message: control characters become spaces and it is cut to
 * `MAX_PEER_TEXT_LENGTH` characters.
 */
export function peerText (text: string | null | undefined): string {
  const clean = (text ?? '').replace(/[\u0000-\u001f\u007f]/g, ' ')
  return clean.length > MAX_PEER_TEXT_LENGTH ? `${clean.slice(0, MAX_PEER_TEXT_LENGTH)}... (${clean.length - MAX_PEER_TEXT_LENGTH} more characters)` : clean
}
