import { describe, it, expect } from 'vitest'
import * as lp from 'it-length-prefixed'
import { FrameDecoder } from '../../src/network/frame-decoder.js'

const frame = (size: number, fill = 7): Uint8Array => lp.encode.single(new Uint8Array(size).fill(fill)).subarray()

function decodeAll (decoder: FrameDecoder, ...parts: Uint8Array[]): Uint8Array[] {
  return parts.flatMap(part => [...decoder.decode(part)].map(frame => frame.subarray()))
}

describe('FrameDecoder', () => {
  it('accepts a frame at the limit and refuses one byte more before its body arrives', () => {
    expect(decodeAll(new FrameDecoder(1000, 4096), frame(1000))[0]?.byteLength).toBe(1000)
    const over = lp.encode.single(new Uint8Array(1001)).subarray(0, 2) // only the prefix
    expect(() => decodeAll(new FrameDecoder(1000, 4096), over)).toThrowError(expect.objectContaining({ name: 'ProtocolError' }))
  })

  it('cuts frames whatever the slicing, several per read or one byte at a time', () => {
    const bytes = new Uint8Array(Buffer.concat([frame(3, 1), frame(0), frame(300, 2), frame(1, 3)]))
    const whole = decodeAll(new FrameDecoder(1000, 4096), bytes)
    const decoder = new FrameDecoder(1000, 4096)
    const bytewise = [...bytes].flatMap(b => [...decoder.decode(Uint8Array.of(b))].map(frame => frame.subarray()))
    for (const result of [whole, bytewise]) {
      expect(result.map(f => f.byteLength)).toEqual([3, 0, 300, 1])
      expect(result[2]?.every(b => b === 2)).toBe(true)
    }
    expect(decoder.pending).toBe(0)
  })

  it('delivers an empty frame (the encoding of an empty message)', () => {
    expect(decodeAll(new FrameDecoder(10, 100), Uint8Array.of(0))).toEqual([new Uint8Array(0)])
  })

  it('refuses a length prefix longer than the largest frame needs, without waiting for more', () => {
    // 1000 needs a 2-byte varint: a second continuation byte can only be garbage
    expect(() => decodeAll(new FrameDecoder(1000, 4096), Uint8Array.of(0xff, 0xff))).toThrowError(/length prefix/)
    // one continuation byte may still be the start of a valid prefix
    expect(decodeAll(new FrameDecoder(1000, 4096), Uint8Array.of(0xff))).toEqual([])
  })

  it('counts a truncated frame as pending bytes', () => {
    const decoder = new FrameDecoder(1000, 4096)
    expect(decodeAll(decoder, frame(100).subarray(0, 11))).toEqual([])
    expect(decoder.pending).toBe(11)
  })

  it('refuses to hold more unread bytes than its bound', () => {
    const decoder = new FrameDecoder(1000, 1500)
    expect(() => decodeAll(decoder, new Uint8Array(Buffer.concat([frame(900).subarray(0, 800), new Uint8Array(800)])))).toThrowError(/unread/)
  })
})
