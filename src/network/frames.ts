import * as lp from 'it-length-prefixed'
import type { Stream, StreamMessageEvent } from '@libp2p/interface'
import { Uint8ArrayList } from 'uint8arraylist'
import { ProtocolError, abortReason, throwIfAborted } from '../errors.js'
import { COALESCE_BYTES, MAX_UNREAD_BYTES, MIN_UNREAD_FRAMES } from './constants.js'
import { FrameDecoder } from './frame-decoder.js'
import { raceSignal } from '../signals.js'

/**
 * Reads length-prefixed frames from a stream through its 'message' events,
 * with a hard maximum frame size. Unlike `for await` over the stream (which
 * queues without limit), the reader can be paused: it then delivers no frame
 * (not even the rest of a 'message' event that held several), and a caller
 * that also pauses the stream leaves what follows in the stream's bounded
 * read buffer while the muxer stops granting the sender more window.
 */
export class FrameReader {
  private readonly stream: Stream
  private readonly decoder: FrameDecoder
  private readonly onFrame: (frame: Uint8ArrayList) => void
  private readonly onError: (err: Error) => void
  private readonly listener: (evt: StreamMessageEvent) => void
  private paused = false
  private stopped = false

  constructor (stream: Stream, maxFrameSize: number, onFrame: (frame: Uint8ArrayList) => void, onError: (err: Error) => void) {
    this.stream = stream
    this.onFrame = onFrame
    this.onError = onError
    this.decoder = new FrameDecoder(maxFrameSize, Math.max(MAX_UNREAD_BYTES, MIN_UNREAD_FRAMES * maxFrameSize))
    this.listener = (evt) => { this.push(evt.data) }
    stream.addEventListener('message', this.listener)
  }

  private push (data: StreamMessageEvent['data']): void {
    try {
      this.decoder.append(data)
    } catch (err) {
      this.broken(err)
      return
    }
    this.deliver()
  }

  private deliver (): void {
    try {
      for (const frame of this.decoder.frames()) {
        this.onFrame(frame)
        if (this.paused || this.stopped) {
          return
        }
      }
    } catch (err) {
      this.broken(err)
    }
  }

  private broken (err: unknown): void {
    this.stop()
    this.onError(new ProtocolError(`bad frame: ${(err as Error).message}`, { cause: err }))
  }

  /**
   * Bytes received that are not yet delivered as frames: whole frames held
   * while paused, and a partial frame (a truncated one if the sender is done).
   */
  get pending (): number {
    return this.decoder.pending
  }

  /** True while frames are held back. */
  get isPaused (): boolean {
    return this.paused
  }

  /** Holds back frames, from the next one on, until `resume()`. */
  pause (): void {
    this.paused = true
  }

  /** Delivers the frames held back (synchronously), then new ones as they come. */
  resume (): void {
    if (!this.paused || this.stopped) {
      return
    }
    this.paused = false
    if (this.decoder.pending > 0) {
      this.deliver()
    }
  }

  /** Stops delivering frames. */
  stop (): void {
    this.stopped = true
    this.stream.removeEventListener('message', this.listener)
  }
}

/** How a {@link FrameWriter} hands frames to its stream. */
export interface FrameWriterOptions {
  /**
   * Send the frames written within one run of the event loop (the promise
   * reactions of the current job) together, as one stream message of up to
   * `COALESCE_BYTES` (64 KiB). Small frames written in bursts, such as a requester's requests,
   * then cost one muxer frame, one Noise message and one socket write per
   * burst instead of per frame. Default false: each frame goes out on its own.
   */
  coalesce?: boolean
}

/** A frame waiting in a coalescing writer's queue. */
interface QueuedFrame {
  frame: Uint8Array | Uint8ArrayList
  signal?: AbortSignal
  onSent?: () => void
  onAbort?: () => void
  resolve(): void
  reject(err: Error): void
}

/**
 * Writes length-prefixed frames to a stream one after another. A frame is
 * handed to the stream only once the stream has room (never piled onto a full
 * write buffer), and its write resolves only once the stream has room again,
 * so a slow reader on the other side holds back this side instead of growing
 * its buffers, and whoever awaits a write holds its resources until the frame
 * has left. Each write may carry a signal: a frame whose signal aborts before
 * it was handed to the stream is never sent; either way the write rejects
 * with the signal's DDS error (`TimeoutError` or `AbortError`). With
 * `coalesce`, frames written close together leave in one stream message
 * (see {@link FrameWriterOptions}); their order is kept either way.
 */
export class FrameWriter {
  private readonly stream: Stream
  private readonly coalesce: boolean
  private tail: Promise<void> = Promise.resolve()
  /** Coalescing: frames not handed to the stream yet, in order. */
  private readonly queue: QueuedFrame[] = []
  /** Coalescing: a flush is scheduled or running. */
  private flushing = false

  constructor (stream: Stream, options: FrameWriterOptions = {}) {
    this.stream = stream
    this.coalesce = options.coalesce === true
  }

  /** Resolves once every frame queued so far has been written (or failed). */
  async flush (): Promise<void> {
    await this.tail
  }

  /**
   * Queues a frame; resolves once it has been handed to the stream and the
   * stream has room again. `onSent` is called when the frame is handed to the
   * stream (from then on the other side may receive it).
   */
  async write (frame: Uint8Array | Uint8ArrayList, signal?: AbortSignal, onSent?: () => void): Promise<void> {
    if (this.coalesce) {
      return this.enqueue(frame, signal, onSent)
    }
    const previous = this.tail
    const next = (async () => {
      // Frames go out in order: wait for the one before (or give up on our deadline).
      await raceSignal(previous, signal, 'writing a frame')
      await this.drained(signal)
      throwIfAborted(signal, 'writing a frame')
      this.assertWritable()
      this.stream.send(lp.encode.single(frame))
      onSent?.()
      await this.drained(signal)
    })()
    // The next frame waits for this one to settle and for the one before it,
    // even when this one gave up early; a failure does not stop the chain.
    this.tail = Promise.allSettled([previous, next]).then(() => {})
    return next
  }

  private async enqueue (frame: Uint8Array | Uint8ArrayList, signal: AbortSignal | undefined, onSent: (() => void) | undefined): Promise<void> {
    throwIfAborted(signal, 'writing a frame')
    const written = new Promise<void>((resolve, reject) => {
      const queued: QueuedFrame = { frame, signal, onSent, resolve, reject }
      if (signal != null) {
        // Given up on before it was handed to the stream: never sent.
        queued.onAbort = () => {
          const at = this.queue.indexOf(queued)
          if (at >= 0) {
            this.queue.splice(at, 1)
            reject(abortReason(signal, 'writing a frame'))
          }
        }
        signal.addEventListener('abort', queued.onAbort, { once: true })
      }
      this.queue.push(queued)
    })
    if (!this.flushing) {
      this.flushing = true
      // Called from a promise reaction (as the channel writes, after its
      // awaits), a nextTick callback runs once every pending reaction has
      // run, so the writes those reactions make join this message. From a
      // plain callback it runs before them: the frame then goes out alone.
      const done = new Promise<void>(resolve => {
        process.nextTick(() => { this.flushQueue().finally(resolve) })
      })
      this.tail = done
    }
    return written
  }

  /**
   * Hands the queued frames to the stream while there are any, as one
   * message of up to COALESCE_BYTES at a time (a single larger frame goes
   * alone), waiting for room before each.
   */
  private async flushQueue (): Promise<void> {
    let batch: QueuedFrame[] = []
    try {
      while (this.queue.length > 0) {
        // a stream that closed meanwhile may never drain again
        this.assertWritable()
        await this.stream.onDrain()
        this.assertWritable()
        batch = this.takeBatch()
        if (batch.length === 0) {
          break
        }
        const message = new Uint8ArrayList()
        for (const queued of batch) {
          queued.signal?.removeEventListener('abort', queued.onAbort!)
          message.append(lp.encode.single(queued.frame))
        }
        this.stream.send(message)
        for (const queued of batch) {
          queued.onSent?.()
        }
        await this.stream.onDrain()
        for (const queued of batch) {
          queued.resolve()
        }
        batch = []
      }
    } catch (err) {
      for (const queued of [...batch, ...this.queue.splice(0)]) {
        queued.signal?.removeEventListener('abort', queued.onAbort!)
        queued.reject(err as Error)
      }
    } finally {
      this.flushing = false
    }
  }

  /** The next frames of the queue that fit in one message (at least one). */
  private takeBatch (): QueuedFrame[] {
    let bytes = 0
    let count = 0
    while (count < this.queue.length) {
      const size = this.queue[count]!.frame.byteLength
      if (count > 0 && bytes + size > COALESCE_BYTES) {
        break
      }
      bytes += size
      count++
    }
    return this.queue.splice(0, count)
  }

  /** Waits until the stream has room for more (at once if it has). */
  private async drained (signal: AbortSignal | undefined): Promise<void> {
    throwIfAborted(signal, 'writing a frame')
    try {
      await this.stream.onDrain({ signal })
    } catch (err) {
      throwIfAborted(signal, 'writing a frame')
      throw err
    }
  }

  private assertWritable (): void {
    if (this.stream.writeStatus !== 'writable') {
      throw new ProtocolError(`cannot write to a stream that is ${this.stream.writeStatus}`)
    }
  }
}
