import { setMaxListeners } from 'node:events'
import type { Connection, Stream } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'
import { pb, Status, type RequestMessage, type ResponseProps } from '../pb/index.js'

type ResponseInit = ResponseProps
import { ProtocolError, TimeoutError } from '../errors.js'
import { FrameReader, FrameWriter } from './frames.js'
import { encodeResponse } from './response.js'
import { busyResponse, handleRequest, responseFor, type HandlerContext } from './handlers.js'
import { addressPrefix, admit, type ServedStream, type SlotTable } from './slots.js'
import { MAX_RELAYED_ANSWER_BYTES, PENALTY_PROTOCOL_VIOLATION, RESPONDER_IDLE_FACTOR } from './constants.js'
import { deadlineSignal, type DeadlineSignal } from '../signals.js'
import { answerTurn, storeTurn, type BandwidthLimiter } from './bandwidth.js'
import type { UploadShares } from './shares.js'

/** Limits of the responder side. */
export interface ServerLimits {
  maxFrameSize: number
  maxRequestsPerStream: number
  maxRequestsPerPeer: number
  maxRequestsPerPrefix: number
  maxConcurrentRequests: number
  stallGraceMs: number
  handlerTimeoutMs: number
  idleTimeoutMs: number
}

/** Empty state for a node's responder. */
export function serverState (): ServerState {
  return { active: 0, perPeer: new Map(), perPrefix: new Map(), served: new Set(), streams: new Set(), whenPeerDone: new Map() }
}

/** State shared by every inbound stream of one node. */
export interface ServerState extends SlotTable {
  /** The inbound streams being served, aborted when the service stops. */
  readonly streams: Set<Stream>
  /** Called, and removed, once the peer (string form) has no request left in `perPeer`: how a ban waits for the answers it owes. */
  readonly whenPeerDone: Map<string, () => void>
  /** The node's bandwidth limits, if any. */
  readonly bandwidth?: BandwidthLimiter
  /** The pacing that shares the upload between competing peers when no node-wide upload limit is set (see shares.ts). */
  readonly shares?: UploadShares
}

/**
 * Serves one inbound stream: decodes each request frame and answers it (in
 * any order, matched by id).
 *
 * Bounds, all counted until the answer has been handed to the stream:
 *
 * - every frame answered on this stream, BUSY and INVALID answers included,
 *   counts against `maxRequestsPerStream`; at that limit the stream is paused
 *   (no frame is read, the muxer stops granting the peer window);
 * - a request worked on takes a node-wide slot (`maxConcurrentRequests`),
 *   one of its peer's (`maxRequestsPerPeer`, over all of the peer's streams)
 *   and one of its address prefix's (`maxRequestsPerPrefix`, shared by every
 *   peer connecting from the same IPv4 /24 or IPv6 /48); a peer with none in
 *   use gets one past the node-wide and prefix limits, and a peer that does
 *   not read its answers (they have waited `stallGraceMs` with none leaving)
 *   loses the stream, and its slots, once a peer holding fewer needs
 *   one (see `admit` in slots.ts); otherwise the request is answered BUSY
 *   with a `retry_after_ms`;
 * - working out an answer, and then handing it to the stream, each have
 *   `handlerTimeoutMs`: a slow store or `onReplicate` gets an ERROR answer,
 *   and a peer that does not read its answers in time has the stream reset.
 *
 * A frame over the size limit or a broken length prefix resets the stream; a
 * frame that does not decode gets an INVALID response. Nothing here throws
 * to libp2p.
 */
export function serveStream (stream: Stream, connection: Connection, ctx: HandlerContext, limits: ServerLimits, state: ServerState): void {
  const peer = connection.remotePeer
  const peerKey = peer.toString()
  if (ctx.scores.isBanned(peerKey)) {
    stream.abort(new ProtocolError(`peer ${peerKey} is banned: ${ctx.scores.standing(peerKey).lastReason}`))
    return
  }
  const controller = new AbortController()
  // every handler and answer in progress listens to it (see deadlineSignal)
  setMaxListeners(Infinity, controller.signal)
  let lastActivity = Date.now()
  state.streams.add(stream)
  const writer = new FrameWriter(stream)
  /** Frames of this stream read and not yet answered (whatever the answer). */
  let active = 0
  let remoteDone = false
  let broken = false
  let truncationPenalised = false

  /** A handler's or an answer's deadline; aborted too when the stream closes. Clear it once done. */
  const deadline = (): DeadlineSignal => deadlineSignal(controller.signal, limits.handlerTimeoutMs)

  const prefix = addressPrefix(connection.remoteAddr, peerKey)
  /** Start times of the answers handed to the writer and not yet written, oldest first. */
  const waiting: number[] = []
  /** When an answer last left (the stream drained after it). */
  let lastLeft = 0
  let slots = 0
  const served: ServedStream = {
    peerKey,
    prefix,
    get slots () { return slots },
    // stalled: answers wait and none has left since; a peer that reads
    // slowly still sees answers leave, and is not stalled
    get waitingSince () { return waiting.length === 0 ? undefined : Math.max(waiting[0]!, lastLeft) },
    evict (reason: string) {
      state.served.delete(served)
      stream.abort(new ProtocolError(reason))
    }
  }
  state.served.add(served)

  const takeSlot = (): void => {
    state.active++
    slots++
    state.perPeer.set(peerKey, (state.perPeer.get(peerKey) ?? 0) + 1)
    state.perPrefix.set(prefix, (state.perPrefix.get(prefix) ?? 0) + 1)
  }
  const releaseSlot = (): void => {
    state.active--
    slots--
    const inPrefix = (state.perPrefix.get(prefix) ?? 1) - 1
    if (inPrefix > 0) {
      state.perPrefix.set(prefix, inPrefix)
    } else {
      state.perPrefix.delete(prefix)
    }
    const left = (state.perPeer.get(peerKey) ?? 1) - 1
    if (left > 0) {
      state.perPeer.set(peerKey, left)
    } else {
      state.perPeer.delete(peerKey)
      if (state.whenPeerDone.size > 0) {
        const done = state.whenPeerDone.get(peerKey)
        state.whenPeerDone.delete(peerKey)
        done?.()
      }
    }
  }

  // Hands one answer to the stream within its own deadline; a peer that does
  // not read its answers in time loses the stream.
  const respond = async (response: ResponseProps, release?: () => void, ready?: () => void): Promise<void> => {
    const frame = encodeResponse(response)
    let limit: DeadlineSignal | undefined
    let since: number | undefined
    try {
      // Waiting for this node's own upload turn, or for this peer's share of
      // it, is not the peer's slowness: neither the deadline nor the stall
      // clock runs meanwhile.
      const turn = answerTurn(state.bandwidth, peerKey, response, frame.byteLength, controller.signal, prefix)
      if (turn != null) {
        await turn
      }
      const share = response.retrieveChunk?.data == null ? undefined : state.shares?.take(prefix, peerKey, frame.byteLength, controller.signal)
      if (share != null) {
        await share
      }
      ready?.()
      ready = undefined
      since = Date.now()
      waiting.push(since)
      limit = deadline()
      await writer.write(frame, limit.signal)
      lastLeft = Date.now()
    } catch (err) {
      const reason = err instanceof TimeoutError
        ? new TimeoutError(`peer ${peerKey} did not read its answers within ${limits.handlerTimeoutMs} ms`, { cause: err })
        : err as Error
      stream.abort(reason)
    } finally {
      limit?.clear()
      if (since != null) {
        waiting.splice(waiting.indexOf(since), 1)
      }
      ready?.()
      release?.()
      lastActivity = Date.now()
      active--
      resumeIfRoom()
      finishIfDone()
    }
  }

  const pauseIfFull = (): void => {
    if (active >= limits.maxRequestsPerStream && !reader.isPaused) {
      reader.pause()
      if (stream.readStatus === 'readable') {
        stream.pause()
      }
    }
  }

  const resumeIfRoom = (): void => {
    if (!reader.isPaused || active >= limits.maxRequestsPerStream || stream.status !== 'open') {
      return
    }
    // Frames the reader held back come before what the stream buffered; they
    // may fill the stream up again, in which case it stays paused.
    reader.resume()
    if (!reader.isPaused && stream.readStatus === 'paused') {
      stream.resume()
    }
  }

  // Close our side once the peer has closed its side and every answer has
  // been handed to the stream (including BUSY and INVALID ones).
  const finishIfDone = (): void => {
    if (!remoteDone || active > 0 || reader.isPaused) {
      return
    }
    if (!broken && !truncationPenalised && reader.pending > 0) {
      truncationPenalised = true
      ctx.scores.penalise(peerKey, PENALTY_PROTOCOL_VIOLATION, 'closed its side in the middle of a frame')
    }
    writer.flush().then(async () => {
      if (active === 0 && stream.writeStatus === 'writable') {
        await stream.close({ signal: AbortSignal.timeout(limits.handlerTimeoutMs) })
      }
    }).catch(() => { stream.abort(new ProtocolError('close failed')) })
  }

  const onFrame = (frame: Uint8ArrayList): void => {
    if (ctx.scores.isBanned(peerKey)) {
      stream.abort(new ProtocolError(`peer ${peerKey} is banned: ${ctx.scores.standing(peerKey).lastReason}`))
      return
    }
    lastActivity = Date.now()
    active++
    pauseIfFull()
    let req: RequestMessage
    try {
      req = pb.Request.decode(frame.subarray())
    } catch (err) {
      const banned = ctx.scores.penalise(peerKey, PENALTY_PROTOCOL_VIOLATION, 'sent an undecodable request')
      void respond({ id: 0, error: { status: Status.INVALID, error: `undecodable request: ${(err as Error).message}` } })
      if (banned) {
        stream.abort(new ProtocolError(`peer ${peerKey} is banned after repeated protocol violations`))
      }
      return
    }
    const admission = admit(state, served, limits)
    if (!admission.admitted) {
      void respond({ ...busyResponse(req, admission.reason), retryAfterMs: admission.retryAfterMs })
      return
    }
    takeSlot()
    const relayed = connection.limits != null
    if (relayed && req.body === 'storeChunk') {
      void respond(responseFor(req.body, req.id, { status: Status.REJECTED, error: RELAYED_REFUSAL }), releaseSlot)
      return
    }
    // the time chunk requests wait on this node tells the upload pacing which
    // peers the node slows down (see UploadShares.begin)
    const shares = req.body === 'retrieveChunk' ? state.shares : undefined
    shares?.begin(prefix, peerKey)
    const ready = shares == null ? undefined : () => { shares.end(prefix, peerKey) }
    const work = (): void => {
      const limit = deadline()
      handleRequest(req, peer, ctx, limit.signal)
        .then(response => relayed ? relayedAnswer(req, response) : response)
        .finally(() => { limit.clear() })
        .then(async response => { await respond(response, releaseSlot, ready) }, () => { ready?.(); releaseSlot() })
        // handleRequest never throws and respond() resets the stream itself when a write fails
        .catch(() => {})
    }
    // StoreChunk data pushed to a node with a download limit waits for its turn first
    const turn = storeTurn(state.bandwidth, req, frame.byteLength, controller.signal)
    if (turn == null) {
      work()
    } else {
      turn.then(work, () => { ready?.(); releaseSlot() })
    }
  }

  const reader = new FrameReader(stream, limits.maxFrameSize, onFrame, (err) => {
    broken = true
    ctx.scores.penalise(peerKey, PENALTY_PROTOCOL_VIOLATION, err.message)
    stream.abort(err)
  })

  // 'end' (not 'remoteCloseWrite') fires once every byte the peer sent has
  // been delivered to the reader, so no request still waiting in the read
  // buffer is lost (the reader may still hold whole frames while paused).
  stream.addEventListener('end', () => {
    remoteDone = true
    finishIfDone()
  })
  // A requester closes a stream it no longer uses after `idleTimeoutMs`; one
  // that leaves a stream open and silent for RESPONDER_IDLE_FACTOR times that
  // loses it. A stream with answers outstanding is bounded by their deadlines
  // instead.
  const idleCheck = setInterval(() => {
    if (active === 0 && Date.now() - lastActivity >= RESPONDER_IDLE_FACTOR * limits.idleTimeoutMs) {
      stream.abort(new ProtocolError('the stream was idle too long'))
    }
  }, limits.idleTimeoutMs)
  idleCheck.unref?.()

  stream.addEventListener('close', () => {
    clearInterval(idleCheck)
    reader.stop()
    controller.abort()
    state.streams.delete(stream)
    state.served.delete(served)
  })
}

const RELAYED_REFUSAL = 'chunks move only over direct connections, and this request came through a relay'

/**
 * What a relayed connection gets: answers that fit `MAX_RELAYED_ANSWER_BYTES`
 * (manifests of small content, catalog pages); a chunk becomes REJECTED, so
 * a relay's data limit is never spent on content.
 */
function relayedAnswer (req: RequestMessage, response: ResponseInit): ResponseInit {
  const data = response.retrieveChunk?.data
  if (data != null && data.byteLength > MAX_RELAYED_ANSWER_BYTES) {
    return responseFor(req.body, req.id, { status: Status.REJECTED, error: RELAYED_REFUSAL })
  }
  return response
}
