import type { Connection, PeerId, Startable, Stream } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import { blockMatchesCid, cidToString } from '../cid.js'
import {
  IntegrityError, NotFoundError, ProtocolError, RejectedError, RemoteError, TimeoutError, abortReason
} from '../errors.js'
import { Status, statusName, type ResponseMessage } from '../pb/index.js'
import { PeerChannel } from './channel.js'
import { serveStream, type ServerState } from './server.js'
import { PeerScores } from './scores.js'
import {
  DDS_PROTOCOL, PENALTY_PROTOCOL_VIOLATION, PENALTY_TIMEOUT, PENALTY_WRONG_BYTES
} from './constants.js'
import type { HandlerContext } from './handlers.js'
import type { NetworkComponents, NetworkService, RequestOptions, ResolvedNetworkInit } from './index.js'

/** The NetworkService implementation; created through `networkService()`. */
export class DdsNetworkService implements NetworkService, Startable {
  readonly scores: PeerScores
  private readonly components: NetworkComponents
  private readonly init: ResolvedNetworkInit
  private readonly channels = new Map<string, PeerChannel>()
  private readonly serverState: ServerState = { active: 0, streams: new Set() }
  private readonly handlerContext: HandlerContext
  private started = false

  constructor (components: NetworkComponents, init: ResolvedNetworkInit) {
    this.components = components
    this.init = init
    this.scores = new PeerScores(init.banDurationMs)
    this.handlerContext = {
      storage: components.storage,
      scores: this.scores,
      storePolicy: init.storePolicy,
      maxBlockSize: init.maxBlockSize,
      maxStoredBytes: init.maxStoredBytes,
      onBlockStored: init.onBlockStored,
      onReplicate: init.onReplicate
    }
  }

  async start (): Promise<void> {
    if (this.started) {
      return
    }
    await this.components.libp2p.handle(this.init.protocol, (stream: Stream, connection: Connection) => {
      serveStream(stream, connection, this.handlerContext, this.init, this.serverState)
    }, {
      maxInboundStreams: this.init.maxInboundStreams,
      maxOutboundStreams: this.init.maxOutboundStreams
    })
    this.started = true
  }

  async stop (): Promise<void> {
    if (!this.started) {
      return
    }
    this.started = false
    await this.components.libp2p.unhandle(this.init.protocol)
    for (const controller of this.serverState.streams) {
      controller.abort()
    }
    for (const channel of this.channels.values()) {
      channel.close()
    }
    this.channels.clear()
  }

  async retrieveBlock (peer: PeerId, cid: CID, options: RequestOptions = {}): Promise<Uint8Array> {
    const response = await this.send(peer, { retrieveChunk: { cid: cid.bytes } }, options)
    const body = this.expect(peer, response, 'retrieveChunk')
    this.throwForStatus(peer, body.status, body.error, cid)
    const data = body.data ?? new Uint8Array(0)
    if (!blockMatchesCid(cid, data)) {
      this.scores.penalise(peer.toString(), PENALTY_WRONG_BYTES, `sent bytes that do not match ${cidToString(cid)}`)
      throw new IntegrityError(`peer ${peer.toString()} sent ${data.byteLength} bytes that do not hash to ${cidToString(cid)}; they were discarded`)
    }
    this.scores.reward(peer.toString())
    return data
  }

  async storeBlock (peer: PeerId, cid: CID, bytes: Uint8Array, options: RequestOptions = {}): Promise<void> {
    const response = await this.send(peer, { storeChunk: { cid: cid.bytes, data: bytes } }, options)
    const body = this.expect(peer, response, 'storeChunk')
    this.throwForStatus(peer, body.status, body.error, cid)
  }

  async replicate (peer: PeerId, cid: CID, sources: PeerId[], options: RequestOptions = {}): Promise<void> {
    const response = await this.send(peer, {
      replicate: { cid: cid.bytes, sourcePeerIds: sources.map(p => p.toMultihash().bytes) }
    }, options)
    const body = this.expect(peer, response, 'replicate')
    this.throwForStatus(peer, body.status, body.error, cid)
  }

  isBanned (peer: PeerId): boolean {
    return this.scores.isBanned(peer.toString())
  }

  private channel (peer: PeerId): PeerChannel {
    const key = peer.toString()
    let channel = this.channels.get(key)
    if (channel == null) {
      channel = new PeerChannel({
        open: async (signal) => this.components.libp2p.dialProtocol(peer, this.init.protocol, { signal }),
        onViolation: (reason) => { this.scores.penalise(key, PENALTY_PROTOCOL_VIOLATION, reason) }
      }, {
        maxFrameSize: this.init.maxFrameSize,
        maxInFlight: this.init.maxInFlightPerPeer,
        idleTimeoutMs: this.init.idleTimeoutMs
      })
      this.channels.set(key, channel)
    }
    return channel
  }

  private async send (peer: PeerId, body: Parameters<PeerChannel['request']>[0], options: RequestOptions): Promise<ResponseMessage> {
    if (!this.started) {
      throw new RemoteError('the network service is stopped')
    }
    options.signal?.throwIfAborted()
    const timeout = AbortSignal.timeout(options.timeoutMs ?? this.init.requestTimeoutMs)
    const signal = options.signal != null ? AbortSignal.any([options.signal, timeout]) : timeout
    try {
      return await this.channel(peer).request(body, signal)
    } catch (err) {
      if (options.signal?.aborted === true) {
        throw abortReason(options.signal, `the request to ${peer.toString()}`)
      }
      if (timeout.aborted) {
        this.scores.penalise(peer.toString(), PENALTY_TIMEOUT, 'a request timed out')
        throw new TimeoutError(`peer ${peer.toString()} did not answer in time`, { cause: err })
      }
      if (err instanceof ProtocolError || err instanceof RemoteError) {
        throw err
      }
      throw new RemoteError(`could not reach peer ${peer.toString()}: ${(err as Error).message}`, { cause: err })
    }
  }

  private expect<K extends 'retrieveChunk' | 'storeChunk' | 'replicate'> (peer: PeerId, response: ResponseMessage, kind: K): NonNullable<ResponseMessage[K]> {
    if (response.body === kind && response[kind] != null) {
      return response[kind] as NonNullable<ResponseMessage[K]>
    }
    if (response.body === 'error') {
      throw new RemoteError(`peer ${peer.toString()} answered ${statusName(response.error?.status)}: ${response.error?.error ?? ''}`)
    }
    this.scores.penalise(peer.toString(), PENALTY_PROTOCOL_VIOLATION, `answered a ${kind} request with ${String(response.body)}`)
    throw new ProtocolError(`peer ${peer.toString()} answered a ${kind} request with a ${String(response.body)} response`)
  }

  private throwForStatus (peer: PeerId, status: Status | null | undefined, error: string | null | undefined, cid: CID): void {
    const detail = error != null && error !== '' ? `: ${error}` : ''
    switch (status) {
      case Status.OK:
        return
      case Status.NOT_FOUND:
        throw new NotFoundError(`peer ${peer.toString()} does not hold ${cidToString(cid)}${detail}`)
      case Status.REJECTED:
        throw new RejectedError(`peer ${peer.toString()} rejected the request for ${cidToString(cid)}${detail}`)
      default:
        throw new RemoteError(`peer ${peer.toString()} answered ${statusName(status)} for ${cidToString(cid)}${detail}`)
    }
  }
}
