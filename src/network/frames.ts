import * as lp from 'it-length-prefixed'
import type { Stream, StreamMessageEvent } from '@libp2p/interface'
import { ProtocolError } from '../errors.js'
import { MAX_UNREAD_BYTES } from './constants.js'
import { FrameDecoder } from './frame-decoder.js'

/**
 * Reads length-prefixed frames from a stream through its 'message' events,
 * with a hard maximum frame size. Unlike `for await` over the stream (which
 * queues without limit), the reader can pause the stream: paused data stays
 * in the stream's bounded read buffer and the muxer stops granting the sender
 * more window.
 */
export class FrameReader {
  private readonly stream: Stream
  private readonly decoder: FrameDecoder
  private readonly onFrame: (frame: Uint8Array) => void
  private readonly onError: (err: Error) => void
  private readonly listener: (evt: StreamMessageEvent) => void

  constructor (stream: Stream, maxFrameSize: number, onFrame: (frame: Uint8Array) => void, onError: (err: Error) => void) {
    this.stream = stream
    this.onFrame = onFrame
    this.onError = onError
    this.decoder = new FrameDecoder(maxFrameSize, Math.max(MAX_UNREAD_BYTES, 2 * maxFrameSize))
    this.listener = (evt) => { this.push(evt.data) }
    stream.addEventListener('message', this.listener)
  }

  private push (data: StreamMessageEvent['data']): void {
    try {
      for (const frame of this.decoder.decode(data)) {
        this.onFrame(frame)
      }
    } catch (err) {
      this.stop()
      this.onError(new ProtocolError(`bad frame: ${(err as Error).message}`, { cause: err }))
    }
  }

  /** Bytes received that do not yet form a whole frame (a truncated frame if the sender is done). */
  get pending (): number {
    return this.decoder.pending
  }

  /** Stops delivering frames. */
  stop (): void {
    this.stream.removeEventListener('message', this.listener)
  }
}

/**
 * Writes length-prefixed frames to a stream one after another, waiting for
 * 'drain' whenever the stream says its buffer is full, so a slow reader on the
 * other side holds back this side instead of growing its buffers.
 */
export class FrameWriter {
  private readonly stream: Stream
  private tail: Promise<void> = Promise.resolve()

  constructor (stream: Stream) {
    this.stream = stream
  }

  /** Resolves once every frame queued so far has been handed to the stream (or failed). */
  async flush (): Promise<void> {
    await this.tail
  }

  /** Queues a frame; resolves once it has been handed to the stream. */
  async write (frame: Uint8Array): Promise<void> {
    const previous = this.tail
    const next = previous.then(async () => {
      if (this.stream.writeStatus !== 'writable') {
        throw new ProtocolError(`cannot write to a stream that is ${this.stream.writeStatus}`)
      }
      if (!this.stream.send(lp.encode.single(frame))) {
        await this.stream.onDrain()
      }
    })
    // Keep the chain alive after a failure so later writes report their own error.
    this.tail = next.catch(() => {})
    return next
  }
}
