import { Uint8ArrayList } from 'uint8arraylist'
import { ProtocolError } from '../errors.js'

/** Bytes an unsigned varint needs to encode `value`. */
function varintLength (value: number): number {
  let length = 1
  while (value >= 0x80) {
    value = Math.floor(value / 0x80)
    length++
  }
  return length
}

/**
 * Cuts a byte stream into unsigned-varint length-prefixed frames.
 *
 * Stricter than a generic length-prefix decoder in the ways an untrusted peer
 * needs: a length prefix longer than the one the largest allowed frame needs
 * is refused as soon as its bytes arrive (rather than waited on forever), a
 * declared length over the limit is refused before its body is buffered, and
 * an empty frame is delivered (it is the valid encoding of an empty message).
 */
export class FrameDecoder {
  private readonly buffer = new Uint8ArrayList()
  private readonly maxFrameSize: number
  private readonly maxPrefixLength: number
  private readonly maxBuffered: number

  constructor (maxFrameSize: number, maxBuffered: number) {
    this.maxFrameSize = maxFrameSize
    this.maxPrefixLength = varintLength(maxFrameSize)
    this.maxBuffered = maxBuffered
  }

  /** Bytes received that are not yet part of a whole frame. */
  get pending (): number {
    return this.buffer.byteLength
  }

  /**
   * Appends `data` and yields every whole frame now available.
   *
   * @throws {ProtocolError} on a bad length prefix, an oversized frame or too many unread bytes
   */
  * decode (data: Uint8Array | Uint8ArrayList): Generator<Uint8ArrayList> {
    this.append(data)
    yield * this.frames()
  }

  /**
   * Appends `data` without cutting frames yet (a reader that is paused keeps
   * what it received here).
   *
   * @throws {ProtocolError} when more than the allowed unread bytes are held
   */
  append (data: Uint8Array | Uint8ArrayList): void {
    this.buffer.append(data)
    if (this.buffer.byteLength > this.maxBuffered) {
      throw new ProtocolError(`more than ${this.maxBuffered} unread bytes`)
    }
  }

  /**
   * Yields every whole frame held. A frame is removed from the buffer before
   * it is yielded, so a caller may stop iterating at any point and resume
   * later with another call. A frame is a list of views into the bytes as
   * they arrived (nothing is copied); `subarray()` joins it when one array
   * is needed.
   *
   * @throws {ProtocolError} on a bad length prefix or an oversized frame
   */
  * frames (): Generator<Uint8ArrayList> {
    while (this.buffer.byteLength > 0) {
      const header = this.readLength()
      if (header == null) {
        return
      }
      const end = header.prefix + header.length
      if (this.buffer.byteLength < end) {
        return
      }
      const frame = this.buffer.sublist(header.prefix, end)
      this.buffer.consume(end)
      yield frame
    }
  }

  private readLength (): { prefix: number, length: number } | undefined {
    let length = 0
    let scale = 1
    for (let i = 0; i < this.maxPrefixLength; i++) {
      if (i >= this.buffer.byteLength) {
        return undefined
      }
      const byte = this.buffer.get(i)
      length += (byte & 0x7f) * scale
      scale *= 0x80
      if (byte < 0x80) {
        if (length > this.maxFrameSize) {
          throw new ProtocolError(`frame of ${length} bytes exceeds the ${this.maxFrameSize}-byte limit`)
        }
        return { prefix: i + 1, length }
      }
    }
    throw new ProtocolError(`length prefix longer than ${this.maxPrefixLength} bytes`)
  }
}
