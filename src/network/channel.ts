import type { Stream } from '@libp2p/interface'
import { pb, uint64ToNumber, type RequestProps, type ResponseMessage } from '../pb/index.js'
import { ProtocolError, RemoteError, abortReason } from '../errors.js'
import { FrameReader, FrameWriter } from './frames.js'

/** Limits of one requester-side channel. */
export interface ChannelLimits {
  maxFrameSize: number
  maxInFlight: number
  idleTimeoutMs: number
}

/** How a channel opens its stream and reports a peer that broke the protocol. */
export interface ChannelHooks {
  open(signal: AbortSignal): Promise<Stream>
  onViolation(reason: string): void
}

interface Pending {
  resolve(response: ResponseMessage): void
  reject(err: Error): void
}

type RequestBody = Omit<RequestProps, 'id'>

/**
 * The requester's side of the protocol with one peer: one stream carrying up
 * to `maxInFlight` pipelined requests, each matched to its response by id.
 * Callers past the limit wait for a slot. The stream is opened on first use,
 * replaced when it fails, and closed after `idleTimeoutMs` without requests.
 */
export class PeerChannel {
  private readonly hooks: ChannelHooks
  private readonly limits: ChannelLimits
  private readonly pending = new Map<number, Pending>()
  private readonly waiting: Array<() => void> = []
  private inFlight = 0
  private nextId = 1
  private stream?: Stream
  private writer?: FrameWriter
  private opening?: Promise<Stream>
  private idleTimer?: ReturnType<typeof setTimeout>
  private closed = false

  constructor (hooks: ChannelHooks, limits: ChannelLimits) {
    this.hooks = hooks
    this.limits = limits
  }

  /** Requests in flight or waiting for a slot. */
  get load (): number {
    return this.inFlight + this.waiting.length
  }

  /** Sends one request and resolves with its response (of any kind; the caller checks it). */
  async request (body: RequestBody, signal: AbortSignal): Promise<ResponseMessage> {
    await this.acquire(signal)
    try {
      const stream = await this.ensureStream(signal)
      const id = this.nextId++
      const response = new Promise<ResponseMessage>((resolve, reject) => {
        this.pending.set(id, { resolve, reject })
      })
      const onAbort = (): void => {
        const entry = this.pending.get(id)
        this.pending.delete(id)
        entry?.reject(abortReason(signal, 'the request'))
      }
      signal.addEventListener('abort', onAbort, { once: true })
      try {
        if (signal.aborted) {
          onAbort()
        } else {
          this.writer?.write(pb.Request.encode({ id, ...body }).finish()).catch(err => {
            this.fail(stream, new RemoteError(`could not send the request: ${(err as Error).message}`, { cause: err }))
          })
        }
        return await response
      } finally {
        signal.removeEventListener('abort', onAbort)
        this.pending.delete(id)
      }
    } finally {
      this.release()
    }
  }

  /** Closes the stream and fails whatever is pending. */
  close (): void {
    this.closed = true
    clearTimeout(this.idleTimer)
    if (this.stream != null) {
      this.fail(this.stream, new RemoteError('the channel was closed'))
    }
    for (const wake of this.waiting.splice(0)) {
      wake()
    }
  }

  private async acquire (signal: AbortSignal): Promise<void> {
    clearTimeout(this.idleTimer)
    while (this.inFlight >= this.limits.maxInFlight) {
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => {
          const i = this.waiting.indexOf(wake)
          if (i >= 0) {
            this.waiting.splice(i, 1)
          }
          reject(abortReason(signal, 'the request'))
        }
        const wake = (): void => {
          signal.removeEventListener('abort', onAbort)
          resolve()
        }
        if (signal.aborted) {
          onAbort()
          return
        }
        signal.addEventListener('abort', onAbort, { once: true })
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
    }
  }

  private scheduleIdleClose (): void {
    clearTimeout(this.idleTimer)
    this.idleTimer = setTimeout(() => {
      const stream = this.stream
      if (stream != null && this.inFlight === 0) {
        this.detach(stream)
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

  private async ensureStream (signal: AbortSignal): Promise<Stream> {
    if (this.closed) {
      throw new RemoteError('the channel was closed')
    }
    if (this.stream != null && this.stream.status === 'open' && this.stream.writeStatus === 'writable') {
      return this.stream
    }
    this.opening ??= this.openStream(signal).finally(() => { this.opening = undefined })
    return this.opening
  }

  private async openStream (signal: AbortSignal): Promise<Stream> {
    const stream = await this.hooks.open(signal)
    this.stream = stream
    this.writer = new FrameWriter(stream)
    const reader = new FrameReader(stream, this.limits.maxFrameSize, frame => { this.onFrame(stream, frame) }, err => {
      this.hooks.onViolation(err.message)
      this.fail(stream, err)
    })
    stream.addEventListener('close', (evt) => {
      reader.stop()
      const cause = evt.error
      this.fail(stream, new RemoteError(`the stream closed${cause != null ? `: ${cause.message}` : ''}`, { cause }))
    })
    stream.addEventListener('end', () => {
      this.fail(stream, new RemoteError('the peer closed the stream'))
    })
    return stream
  }

  private onFrame (stream: Stream, frame: Uint8Array): void {
    let response: ResponseMessage
    let id: number
    try {
      response = pb.Response.decode(frame)
      id = uint64ToNumber(response.id, 'response id')
    } catch (err) {
      this.violation(stream, `sent an undecodable response: ${(err as Error).message}`)
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
      this.violation(stream, id === 0 ? 'could not decode one of our requests' : `answered request ${id} that was never sent`)
    }
    // Otherwise: a late answer to a request that timed out or was aborted.
  }

  private violation (stream: Stream, reason: string): void {
    this.hooks.onViolation(reason)
    const err = new ProtocolError(`peer ${reason}`)
    stream.abort(err)
    this.fail(stream, err)
  }

  /** Forgets `stream` (if current) and rejects every pending request. */
  private fail (stream: Stream, err: Error): void {
    if (this.stream === stream) {
      this.detach(stream)
      for (const entry of this.pending.values()) {
        entry.reject(err)
      }
      this.pending.clear()
      if (stream.status === 'open') {
        stream.abort(err)
      }
    }
  }

  private detach (stream: Stream): void {
    if (this.stream === stream) {
      this.stream = undefined
      this.writer = undefined
    }
  }
}
