import type { Stream } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'
import { pb, uint64ToNumber, type RequestProps } from '../pb/index.js'
import { ProtocolError, RemoteError, abortReason } from '../errors.js'
import { FrameReader, FrameWriter } from './frames.js'
import { deadlineSignal, raceSignal, type DeadlineSignal } from '../signals.js'
import { decodeResponse, type ReceivedResponse } from './response.js'

/** Limits of one requester-side channel. */
export interface ChannelLimits {
  maxFrameSize: number
  maxInFlight: number
  idleTimeoutMs: number
  /** Deadline of opening the stream; the channel owns it, not any one request. */
  openTimeoutMs: number
}

/** How a channel opens its stream and reports a peer that misbehaved. */
export interface ChannelHooks {
  open(signal: AbortSignal): Promise<Stream>
  onViolation(reason: string): void
  /** A request that had been handed to the stream got no answer before its deadline. */
  onTimeout(): void
  /**
   * This node's own turn to send `body` (its bandwidth limits): awaited
   * before the request's deadline starts; resolves to the bytes reserved for
   * the answer. Undefined when there is nothing to wait for.
   */
  turn?(body: RequestBody, signal: AbortSignal | undefined): Promise<number> | undefined
  /** Settles an answer for which `reserved` bytes were reserved and `received` came. */
  settle?(reserved: number, received: number): void
}

/** Options of one request on a channel. */
export interface ChannelRequestOptions {
  /** The caller's signal: aborts the request wherever it is, waiting for a slot included. */
  signal?: AbortSignal
  /** Deadline of the request, counted from the moment it has a slot and its bandwidth turn (not while it waits for either). */
  timeoutMs: number
  /** Called when the deadline starts: the request is about to be sent. */
  onStart?(): void
}

interface Pending {
  resolve(response: ReceivedResponse): void
  reject(err: Error): void
}

/** One stream of the channel and what is known about it. */
interface Link {
  stream: Stream
  writer: FrameWriter
  /**
   * Requests sent on this stream and then given up on (timed out or
   * aborted): the late answers the peer may still send here. One more is a
   * response nobody asked for.
   */
  abandoned: number
}

type RequestBody = Omit<RequestProps, 'id'>

/**
 * The requester's side of the protocol with one peer: one stream carrying up
 * to `maxInFlight` pipelined requests, each matched to its response by id.
 * Callers past the limit wait for a slot; a request's deadline starts once it
 * has one. The stream is opened on first use (under the channel's own
 * deadline, so one caller giving up does not fail the others waiting for it),
 * replaced when it fails, and closed after `idleTimeoutMs` without requests.
 */
export class PeerChannel {
  private readonly hooks: ChannelHooks
  private readonly limits: ChannelLimits
  private readonly pending = new Map<number, Pending>()
  private readonly waiting: Array<() => void> = []
  private readonly lifetime = new AbortController()
  private inFlight = 0
  private nextId = 1
  private link?: Link
  private opening?: Promise<Link>
  private idleTimer?: ReturnType<typeof setTimeout>
  private closed = false
  private onIdle?: () => void

  constructor (hooks: ChannelHooks, limits: ChannelLimits) {
    this.hooks = hooks
    this.limits = limits
  }

  /** Requests in flight or waiting for a slot. */
  get load (): number {
    return this.inFlight + this.waiting.length
  }

  /**
   * Calls `done` once no request is in flight or waiting for a slot, at once
   * if none is: requests already sent to a peer that was just banned may
   * still bring verified blocks before its connection is closed.
   */
  whenIdle (done: () => void): void {
    if (this.load === 0) {
      done()
      return
    }
    this.onIdle = done
  }

  /**
   * Sends one request and resolves with its response (of any kind; the caller
   * checks it).
   *
   * @throws {TimeoutError} no answer within `timeoutMs` of getting a slot
   * @throws {AbortError} the caller's signal aborted
   * @throws {RemoteError} the stream could not be opened or failed
   * @throws {ProtocolError} the peer broke the protocol on this stream
   */
  async request (body: RequestBody, options: ChannelRequestOptions): Promise<ReceivedResponse> {
    await this.acquire(options.signal)
    let deadline: DeadlineSignal | undefined
    let reserved = 0
    let received = 0
    try {
      // waiting for our own bandwidth is not the peer's latency: the deadline starts after
      const turn = this.hooks.turn?.(body, options.signal)
      if (turn != null) {
        reserved = await turn
      }
      deadline = deadlineSignal(options.signal, Math.ceil(options.timeoutMs))
      options.onStart?.()
      const link = await this.ensureStream(deadline.signal)
      const answer = await this.exchange(link, body, deadline)
      received = answer.chunkData?.byteLength ?? 0
      return answer
    } finally {
      deadline?.clear()
      if (reserved > 0) {
        this.hooks.settle?.(reserved, received)
      }
      this.release()
    }
  }

  private async exchange (link: Link, body: RequestBody, deadline: DeadlineSignal): Promise<ReceivedResponse> {
    const signal = deadline.signal
    const id = this.nextId++
    let written = false
    const response = new Promise<ReceivedResponse>((resolve, reject) => {
      this.pending.set(id, { resolve, reject })
    })
    const onAbort = (): void => {
      const entry = this.pending.get(id)
      if (entry == null) {
        return
      }
      this.pending.delete(id)
      if (written) {
        // The peer may still answer; that answer is expected, not a violation.
        link.abandoned++
        if (deadline.timedOut) {
          this.hooks.onTimeout()
        }
      }
      entry.reject(abortReason(signal, 'the request'))
    }
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      if (signal.aborted) {
        onAbort()
      } else {
        link.writer.write(pb.Request.encode({ id, ...body }).finish(), signal, () => { written = true }).catch(err => {
          // A request given up on before it was sent is simply not sent.
          if (!signal.aborted) {
            this.fail(link, new RemoteError(`could not send the request: ${(err as Error).message}`, { cause: err }))
          }
        })
      }
      return await response
    } finally {
      signal.removeEventListener('abort', onAbort)
      this.pending.delete(id)
    }
  }

  /** Closes the stream and fails whatever is pending. */
  close (): void {
    this.closed = true
    this.lifetime.abort(new RemoteError('the channel was closed'))
    clearTimeout(this.idleTimer)
    if (this.link != null) {
      this.fail(this.link, new RemoteError('the channel was closed'))
    }
    for (const wake of this.waiting.splice(0)) {
      wake()
    }
  }

  private async acquire (signal: AbortSignal | undefined): Promise<void> {
    clearTimeout(this.idleTimer)
    while (this.inFlight >= this.limits.maxInFlight) {
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => {
          const i = this.waiting.indexOf(wake)
          if (i >= 0) {
            this.waiting.splice(i, 1)
          }
          reject(abortReason(signal!, 'the request'))
        }
        const wake = (): void => {
          signal?.removeEventListener('abort', onAbort)
          resolve()
        }
        if (signal?.aborted === true) {
          onAbort()
          return
        }
        signal?.addEventListener('abort', onAbort, { once: true })
        this.waiting.push(wake)
      })
      if (this.closed) {
        throw new RemoteError('the channel was closed')
      }
    }
    this.inFlight++
  }

  private release (): void {
    this.inFlight--
    const wake = this.waiting.shift()
    if (wake != null) {
      wake()
    } else if (this.inFlight === 0) {
      this.scheduleIdleClose()
      const onIdle = this.onIdle
      this.onIdle = undefined
      onIdle?.()
    }
  }

  private scheduleIdleClose (): void {
    clearTimeout(this.idleTimer)
    this.idleTimer = setTimeout(() => {
      const link = this.link
      if (link != null && this.inFlight === 0) {
        const stream = link.stream
        this.detach(link)
        stream.close().catch(() => { stream.abort(new RemoteError('close failed')) })
        // close() ends only our side; a peer that never ends its side would
        // keep the stream half-open forever, so give it one more idle period.
        const reaper = setTimeout(() => {
          if (stream.status === 'open') {
            stream.abort(new RemoteError('the peer did not close an idle stream'))
          }
        }, this.limits.idleTimeoutMs)
        reaper.unref?.()
        stream.addEventListener('close', () => { clearTimeout(reaper) }, { once: true })
      }
    }, this.limits.idleTimeoutMs)
    this.idleTimer.unref?.()
  }

  private async ensureStream (signal: AbortSignal): Promise<Link> {
    if (this.closed) {
      throw new RemoteError('the channel was closed')
    }
    const link = this.link
    if (link != null && link.stream.status === 'open' && link.stream.writeStatus === 'writable') {
      return link
    }
    if (this.opening == null) {
      // Opened under the channel's own deadline: every request waiting for
      // this stream races only its own signal against it.
      const opening = this.openStream(AbortSignal.any([this.lifetime.signal, AbortSignal.timeout(this.limits.openTimeoutMs)]))
      this.opening = opening
      const done = (): void => {
        if (this.opening === opening) {
          this.opening = undefined
        }
      }
      opening.then(done, done)
    }
    return raceSignal(this.opening, signal, 'opening a stream to the peer')
  }

  private async openStream (signal: AbortSignal): Promise<Link> {
    const stream = await this.hooks.open(signal)
    if (this.closed) {
      stream.abort(new RemoteError('the channel was closed'))
      throw new RemoteError('the channel was closed')
    }
    const link: Link = { stream, writer: new FrameWriter(stream, { coalesce: true }), abandoned: 0 }
    this.link = link
    const reader = new FrameReader(stream, this.limits.maxFrameSize, frame => { this.onFrame(link, frame) }, err => {
      this.hooks.onViolation(err.message)
      this.fail(link, err)
    })
    stream.addEventListener('close', (evt) => {
      reader.stop()
      this.fail(link, closeError(stream, evt.error))
    })
    // A reset or an abort dispatches 'end' before 'close': 'close' says which
    stream.addEventListener('end', () => {
      if (stream.status !== 'reset' && stream.status !== 'aborted') {
        this.fail(link, new RemoteError('the peer closed the stream'))
      }
    })
    // A stream nobody ends up using (every waiter gave up) is closed like an idle one.
    if (this.inFlight === 0) {
      this.scheduleIdleClose()
    }
    return link
  }

  private onFrame (link: Link, frame: Uint8ArrayList): void {
    let response: ReceivedResponse
    let id: number
    try {
      response = decodeResponse(frame)
      id = uint64ToNumber(response.response.id, 'response id')
    } catch (err) {
      this.violation(link, `sent an undecodable response: ${(err as Error).message}`)
      return
    }
    const entry = this.pending.get(id)
    if (entry != null) {
      this.pending.delete(id)
      entry.resolve(response)
      return
    }
    if (id === 0 || id >= this.nextId) {
      // id 0 is the responder's answer to a frame it could not decode; an id
      // never issued is a response nobody asked for. Either way the stream's
      // request/response pairing can no longer be trusted.
      this.violation(link, id === 0 ? 'could not decode one of our requests' : `answered request ${id} that was never sent`)
      return
    }
    if (link.abandoned > 0) {
      // A late answer to a request that timed out or was aborted.
      link.abandoned--
      return
    }
    // More late answers than requests given up on here: answers to requests
    // never sent on this stream, or sent twice.
    this.violation(link, `answered request ${id}, which it was not asked (or had answered already) on this stream`)
  }

  private violation (link: Link, reason: string): void {
    this.hooks.onViolation(reason)
    const err = new ProtocolError(`peer ${reason}`)
    link.stream.abort(err)
    this.fail(link, err)
  }

  /** Forgets `link` (if current) and rejects every pending request. */
  private fail (link: Link, err: Error): void {
    if (this.link === link) {
      this.detach(link)
      for (const entry of this.pending.values()) {
        entry.reject(err)
      }
      this.pending.clear()
      if (link.stream.status === 'open') {
        link.stream.abort(err)
      }
    }
  }

  private detach (link: Link): void {
    if (this.link === link) {
      this.link = undefined
    }
  }
}

/** Why a stream closed under its requests: the peer reset it, this node aborted it, or it closed. */
function closeError (stream: Stream, cause: Error | undefined): RemoteError {
  if (stream.status === 'reset') {
    return new RemoteError('the peer reset the stream', { cause })
  }
  return new RemoteError(`the stream ${stream.status === 'aborted' ? 'was aborted' : 'closed'}${cause != null ? `: ${cause.message}` : ''}`, { cause })
}
