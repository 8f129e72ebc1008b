import type { Connection, Stream } from '@libp2p/interface'
import { pb, Status, type RequestMessage, type ResponseProps } from '../pb/index.js'
import { ProtocolError } from '../errors.js'
import { FrameReader, FrameWriter } from './frames.js'
import { busyResponse, handleRequest, type HandlerContext } from './handlers.js'
import { PENALTY_PROTOCOL_VIOLATION } from './constants.js'

/** Limits of the responder side. */
export interface ServerLimits {
  maxFrameSize: number
  maxRequestsPerStream: number
  maxConcurrentRequests: number
  handlerTimeoutMs: number
  idleTimeoutMs: number
}

/** State shared by every inbound stream of one node. */
export interface ServerState {
  /** Requests being worked on over all streams. */
  active: number
  /** Signals of the streams being served, aborted when the service stops. */
  readonly streams: Set<AbortController>
}

/**
 * Serves one inbound stream: decodes each request frame, answers it (up to
 * `maxRequestsPerStream` at once, in any order, matched by id), pauses reading
 * while at that limit, and answers BUSY past the node-wide limit. A frame over
 * the size limit or a broken length prefix resets the stream; a frame that
 * does not decode gets an INVALID response. Nothing here throws to libp2p.
 */
export function serveStream (stream: Stream, connection: Connection, ctx: HandlerContext, limits: ServerLimits, state: ServerState): void {
  const peer = connection.remotePeer
  const peerKey = peer.toString()
  if (ctx.scores.isBanned(peerKey)) {
    stream.abort(new ProtocolError(`peer ${peerKey} is banned: ${ctx.scores.standing(peerKey).lastReason}`))
    return
  }
  const controller = new AbortController()
  let lastActivity = Date.now()
  state.streams.add(controller)
  const writer = new FrameWriter(stream)
  let active = 0
  let remoteDone = false

  const send = async (response: ResponseProps): Promise<void> => {
    try {
      await writer.write(pb.Response.encode(response).finish())
    } catch (err) {
      stream.abort(err as Error)
    }
  }

  // Close our side once the peer has closed its side and every answer has
  // been handed to the stream (including BUSY and INVALID ones).
  const finishIfDone = (): void => {
    if (!remoteDone || active > 0) {
      return
    }
    writer.flush().then(async () => {
      if (active === 0 && stream.writeStatus === 'writable') {
        await stream.close()
      }
    }).catch(() => { stream.abort(new ProtocolError('close failed')) })
  }

  const onFrame = (frame: Uint8Array): void => {
    lastActivity = Date.now()
    let req: RequestMessage
    try {
      req = pb.Request.decode(frame)
    } catch (err) {
      const banned = ctx.scores.penalise(peerKey, PENALTY_PROTOCOL_VIOLATION, 'sent an undecodable request')
      void send({ id: 0, error: { status: Status.INVALID, error: `undecodable request: ${(err as Error).message}` } })
      if (banned) {
        stream.abort(new ProtocolError(`peer ${peerKey} is banned after repeated protocol violations`))
      }
      return
    }
    if (state.active >= limits.maxConcurrentRequests) {
      void send(busyResponse(req))
      return
    }
    active++
    state.active++
    if (active >= limits.maxRequestsPerStream && stream.readStatus === 'readable') {
      stream.pause()
    }
    const signal = AbortSignal.any([controller.signal, AbortSignal.timeout(limits.handlerTimeoutMs)])
    handleRequest(req, peer, ctx, signal)
      .then(send)
      .finally(() => {
        lastActivity = Date.now()
        active--
        state.active--
        if (stream.readStatus === 'paused' && active < limits.maxRequestsPerStream) {
          stream.resume()
        }
        finishIfDone()
      })
      .catch(() => {})
  }

  let broken = false
  const reader = new FrameReader(stream, limits.maxFrameSize, onFrame, (err) => {
    broken = true
    ctx.scores.penalise(peerKey, PENALTY_PROTOCOL_VIOLATION, err.message)
    stream.abort(err)
  })

  // 'end' (not 'remoteCloseWrite') fires once every byte the peer sent has
  // been delivered, so no request still waiting in the read buffer is lost.
  stream.addEventListener('end', () => {
    remoteDone = true
    if (!broken && reader.pending > 0) {
      ctx.scores.penalise(peerKey, PENALTY_PROTOCOL_VIOLATION, 'closed its side in the middle of a frame')
    }
    finishIfDone()
  })
  // A requester closes a stream it no longer uses after `idleTimeoutMs`; one
  // that leaves a stream open and silent for twice that loses it.
  const idleCheck = setInterval(() => {
    if (active === 0 && Date.now() - lastActivity >= 2 * limits.idleTimeoutMs) {
      stream.abort(new ProtocolError('the stream was idle too long'))
    }
  }, limits.idleTimeoutMs)
  idleCheck.unref?.()

  stream.addEventListener('close', () => {
    clearInterval(idleCheck)
    reader.stop()
    controller.abort()
    state.streams.delete(controller)
  })
}
