/**
 * FrameWriter over a real libp2p stream (TCP on 127.0.0.1, Noise, Yamux):
 * frames keep their order, a frame given up on before it left is never sent,
 * and a coalescing writer sends the frames written close together as one
 * stream message.
 */
import { describe, it, expect, afterEach } from 'vitest'
import type { Libp2p } from 'libp2p'
import type { Stream } from '@libp2p/interface'
import { FrameWriter } from '../../src/network/frames.js'
import { FrameDecoder } from '../../src/network/frame-decoder.js'
import { bareNode, learn } from './harness.js'
import { WAIT_MS, waitFor } from '../utils/wait.js'

const PROTOCOL = '/dds-test/frames/1.0.0'

/** Frames `i` bytes long, filled with `i`, so order and content show in one array. */
const frame = (i: number): Uint8Array => new Uint8Array(i).fill(i)

describe('FrameWriter', () => {
  const nodes: Libp2p[] = []
  afterEach(async () => {
    await Promise.allSettled(nodes.splice(0).map(async n => { await n.stop() }))
  })

  /**
   * A stream to a node that decodes every frame it receives. `sends` counts
   * the messages handed to the sending stream, `messages` those that arrived.
   */
  async function pair (): Promise<{ stream: Stream, sends: () => number, received: number[], messages: () => number }> {
    const [a, b] = [await bareNode(), await bareNode()]
    nodes.push(a, b)
    const received: number[] = []
    let messages = 0
    await b.handle(PROTOCOL, (stream) => {
      const decoder = new FrameDecoder(1024 * 1024, 4 * 1024 * 1024)
      stream.addEventListener('message', (evt) => {
        messages++
        for (const f of decoder.decode(evt.data)) {
          received.push(f.byteLength)
        }
      })
    })
    await learn(a, b)
    const stream = await a.dialProtocol(b.peerId, PROTOCOL, { signal: AbortSignal.timeout(WAIT_MS) })
    let sends = 0
    const send = stream.send.bind(stream)
    stream.send = (data) => { sends++; return send(data) }
    return { stream, sends: () => sends, received, messages: () => messages }
  }

  it('coalescing: frames written in one run of the event loop leave as one message, in order', async () => {
    const { stream, sends, received, messages } = await pair()
    const writer = new FrameWriter(stream, { coalesce: true })
    const sent: number[] = []
    const writes = [1, 2, 3].map(async i => writer.write(frame(i), undefined, () => sent.push(i)))
    // writes made from promise reactions of the same run join them
    writes.push(Promise.resolve().then(async () => writer.write(frame(4), undefined, () => sent.push(4))))
    writes.push(Promise.resolve().then(() => undefined).then(async () => writer.write(frame(5), undefined, () => sent.push(5))))
    await Promise.all(writes)
    expect(sends()).toBe(1)
    expect(sent).toEqual([1, 2, 3, 4, 5])
    await waitFor(() => received.length === 5, 'five frames')
    expect(received).toEqual([1, 2, 3, 4, 5])
    expect(messages()).toBe(1)

    // a later run is a later message
    await Promise.all([writer.write(frame(6)), writer.write(frame(7))])
    await writer.flush()
    expect(sends()).toBe(2)
    await waitFor(() => received.length === 7, 'seven frames')
    expect(received).toEqual([1, 2, 3, 4, 5, 6, 7])
  })

  it('without coalescing each frame is its own message', async () => {
    const { stream, sends, received } = await pair()
    const writer = new FrameWriter(stream)
    await Promise.all([1, 2, 3].map(async i => writer.write(frame(i))))
    expect(sends()).toBe(3)
    await waitFor(() => received.length === 3, 'three frames')
    expect(received).toEqual([1, 2, 3])
  })

  it('coalescing: a frame whose signal aborts before it leaves is never sent, and its write rejects', async () => {
    const { stream, sends, received } = await pair()
    const writer = new FrameWriter(stream, { coalesce: true })
    const controller = new AbortController()
    let dropped = false
    const kept = writer.write(frame(1))
    const given = writer.write(frame(2), controller.signal, () => { dropped = true })
    const last = writer.write(frame(3))
    controller.abort()
    await expect(given).rejects.toMatchObject({ name: 'AbortError' })
    await Promise.all([kept, last])
    expect(dropped).toBe(false)
    expect(sends()).toBe(1)
    await waitFor(() => received.length === 2, 'two frames')
    expect(received).toEqual([1, 3])

    // a signal that aborted already: refused at once
    const aborted = AbortSignal.abort()
    await expect(writer.write(frame(4), aborted)).rejects.toMatchObject({ name: 'AbortError' })
    expect(sends()).toBe(1)
  })

  it('coalescing: large frames go out about one per message', async () => {
    const { stream, sends, received } = await pair()
    const writer = new FrameWriter(stream, { coalesce: true })
    const big = (fill: number): Uint8Array => new Uint8Array(40 * 1024).fill(fill)
    await Promise.all([writer.write(big(1)), writer.write(big(2)), writer.write(frame(3)), writer.write(big(4))])
    // 40 KiB + 40 KiB would pass 64 KiB: the second starts a new message, which the small one joins
    expect(sends()).toBe(3)
    await waitFor(() => received.length === 4, 'four frames')
    expect(received).toEqual([40 * 1024, 40 * 1024, 3, 40 * 1024])
  })

  it('coalescing: a write queued just before the stream is aborted rejects instead of waiting for a drain', async () => {
    const { stream } = await pair()
    const writer = new FrameWriter(stream, { coalesce: true })
    const write = writer.write(frame(1))
    stream.abort(new Error('gone'))
    await expect(write).rejects.toThrow()
    await writer.flush()
  })

  it('coalescing: writes queued on a stream that closed reject', async () => {
    const { stream } = await pair()
    const writer = new FrameWriter(stream, { coalesce: true })
    await writer.write(frame(1))
    stream.abort(new Error('gone'))
    await expect(writer.write(frame(2))).rejects.toThrow()
  })
})
