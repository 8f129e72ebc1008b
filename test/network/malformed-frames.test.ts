/**
 * Malformed and hostile frames on the `/digisocialblock/dds/0.1.0` protocol,
 * in the spirit of js-libp2p floodsub's decode-rpc-limits.spec: accept at the
 * limit, reset at limit + 1, answer what can be answered with INVALID, never
 * crash, penalise and eventually ban the sender, and keep serving everyone
 * else.
 *
 * The attacked node `target` is a real Dds node (store policy 'any' so that
 * StoreChunk reaches the CID check); `honest` is a second Dds node that
 * bootstraps from it and seeds its publishes to it; the attacker is a bare
 * libp2p node (TCP + Noise + Yamux) that writes raw bytes on streams it opens
 * with `dialProtocol`.
 */
import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { randomBytes } from 'node:crypto'
import type { Libp2p } from 'libp2p'
import { multiaddr } from '@multiformats/multiaddr'
import type { Stream, StreamCloseEvent } from '@libp2p/interface'
import * as lp from 'it-length-prefixed'
import { Uint8ArrayList } from 'uint8arraylist'
import type { Dds } from '../../src/index.js'
import { pb, Status, uint64ToNumber, type ResponseMessage, type RequestProps } from '../../src/pb/index.js'
import { cidForBlock, parseCid } from '../../src/cid.js'
import { DDS_PROTOCOL, DEFAULT_MAX_FRAME_SIZE } from '../../src/network/constants.js'
import { Cluster } from '../utils/cluster.js'
import { WAIT_MS, waitFor } from '../utils/wait.js'
import { bareNode } from './harness.js'

/** What became of a raw stream. */
interface Ending {
  /** The stream was reset by the remote (or aborted) rather than closed cleanly. */
  reset: boolean
  error?: Error
  status: string
}

/**
 * One raw stream from the attacker: records every byte it receives from the
 * moment it is opened, decodes them as length-prefixed Responses on demand and
 * reports how the stream ended.
 */
class RawStream {
  readonly stream: Stream
  private readonly received = new Uint8ArrayList()
  private closeEvent?: StreamCloseEvent

  private constructor (stream: Stream) {
    this.stream = stream
    stream.addEventListener('message', (evt) => { this.received.append(evt.data) })
    stream.addEventListener('close', (evt) => { this.closeEvent = evt })
  }

  static async open (from: Libp2p, to: Dds): Promise<RawStream> {
    const stream = await from.dialProtocol(multiaddr(to.getMultiaddrs()[0]!), DDS_PROTOCOL, { signal: AbortSignal.timeout(WAIT_MS) })
    return new RawStream(stream)
  }

  /** Writes raw bytes; resolves false if the stream refused them (e.g. it was reset meanwhile). */
  async write (bytes: Uint8Array): Promise<boolean> {
    try {
      if (!this.stream.send(bytes)) {
        await this.stream.onDrain({ signal: AbortSignal.timeout(WAIT_MS) })
      }
      return true
    } catch {
      return false
    }
  }

  /** Writes one length-prefixed frame. */
  async writeFrame (frame: Uint8Array): Promise<boolean> {
    return this.write(lp.encode.single(frame).subarray())
  }

  async writeRequest (request: RequestProps): Promise<boolean> {
    return this.writeFrame(pb.Request.encode(request).finish())
  }

  /** Closes the write side only; the remote may still answer. */
  async closeWrite (): Promise<void> {
    await this.stream.close({ signal: AbortSignal.timeout(WAIT_MS) }).catch(() => {})
  }

  /** Every complete Response received so far. */
  responses (): ResponseMessage[] {
    const out: ResponseMessage[] = []
    try {
      for (const frame of lp.decode([this.received.sublist()])) {
        out.push(pb.Response.decode(frame.subarray()))
      }
    } catch {
      // a trailing partial frame: not received yet
    }
    return out
  }

  /** Waits until `count` Responses arrived. */
  async waitForResponses (count: number, ms = WAIT_MS): Promise<ResponseMessage[]> {
    await waitFor(() => this.responses().length >= count || this.done, `${count} response(s)`, ms)
    const got = this.responses()
    expect(got.length, `responses received before the stream ${this.done ? 'ended' : 'timed out'}`).toBeGreaterThanOrEqual(count)
    return got
  }

  /** True once the stream is closed on both sides, reset or aborted (it may already be when `open` returns). */
  get done (): boolean {
    return this.closeEvent != null || ['closed', 'reset', 'aborted'].includes(this.stream.status)
  }

  /** Waits until the stream is closed (both sides) or reset, and says which. */
  async ended (ms = WAIT_MS): Promise<Ending> {
    await waitFor(() => this.done, 'the stream to end', ms)
    const status = this.stream.status
    const error = this.closeEvent?.error
    return { reset: error != null || status === 'reset' || status === 'aborted', error, status }
  }
}

/** A varint-length-delimited field `field` (wire type 2) holding `size` zero bytes: padding protobuf decoders skip. */
function unknownField (field: number, size: number): Uint8Array {
  const tag = varint((field << 3) | 2)
  return Uint8Array.from([...tag, ...varint(size), ...new Uint8Array(size)])
}

function varint (value: number): number[] {
  const out: number[] = []
  let v = value
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80)
    v = Math.floor(v / 128)
  }
  out.push(v)
  return out
}

/**
 * A StoreChunk Request frame (without its length prefix) of exactly `size`
 * bytes carrying a valid block of `blockSize` bytes, padded with an unknown
 * field (number 1000) of the Request, which proto3 decoders skip.
 */
function storeChunkFrameOfSize (id: number, size: number, blockSize: number): { frame: Uint8Array, block: Uint8Array } {
  const block = randomBytes(blockSize)
  const base = pb.Request.encode({ id, storeChunk: { cid: cidForBlock(block).bytes, data: block } }).finish()
  for (let padding = size - base.byteLength - 2; padding > 0; padding--) {
    const pad = unknownField(1000, padding)
    if (base.byteLength + pad.byteLength === size) {
      const frame = new Uint8Array(size)
      frame.set(base, 0)
      frame.set(pad, base.byteLength)
      return { frame, block }
    }
  }
  throw new Error(`cannot pad a StoreChunk frame to ${size} bytes`)
}

/** A response's id as a number (protobufjs may decode uint64 as a Long). */
function idOf (response: ResponseMessage | undefined): number | undefined {
  return response == null ? undefined : uint64ToNumber(response.id, 'response id')
}

function statusOf (response: ResponseMessage): Status | null | undefined {
  switch (response.body) {
    case 'retrieveChunk': return response.retrieveChunk?.status
    case 'storeChunk': return response.storeChunk?.status
    case 'replicate': return response.replicate?.status
    case 'error': return response.error?.status
    default: return undefined
  }
}

describe('malformed frames on /digisocialblock/dds/0.1.0', () => {
  let target: Dds
  let honest: Dds
  let attacker: Libp2p
  const cluster = new Cluster()
  const extra: Array<{ stop(): Promise<void> | void }> = []
  let published: Uint8Array
  let publishedCid: string

  beforeEach(async () => {
    // Nothing here is found through the DHT (the two nodes are connected, and
    // honest seeds its publishes to target), so nothing is announced: a fresh
    // node's first DHT query waits a second for kad-dht's initial self-query.
    target = await cluster.node({ storage: 'memory', network: { storePolicy: 'any' }, announce: 'none' })
    honest = await cluster.node({ storage: 'memory', bootstrap: target.getMultiaddrs(), seedPeers: target.getMultiaddrs(), announce: 'none' })
    published = randomBytes(262144 + 777)
    publishedCid = await target.publish(published, { signal: AbortSignal.timeout(WAIT_MS) })
    attacker = await bareNode()
  })

  afterEach(async () => {
    await Promise.allSettled([
      attacker?.stop(),
      ...extra.splice(0).map(async n => n.stop())
    ])
    await cluster.stop()
  })

  /**
   * The attacked node still serves an honest peer: the honest node retrieves
   * what the target published (bytes equal), and publishes through it (its
   * seed push lands in the target's store).
   */
  async function assertStillServes (): Promise<void> {
    expect(target.libp2p.status).toBe('started')
    const got = await honest.retrieveBytes(publishedCid, { signal: AbortSignal.timeout(WAIT_MS) })
    expect(Buffer.from(got).equals(published)).toBe(true)
    const fresh = randomBytes(5000)
    const cid = await honest.publish(fresh, { signal: AbortSignal.timeout(WAIT_MS) })
    expect(await target.has(cid)).toBe(true)
    expect(Buffer.from(await target.retrieveBytes(cid)).equals(fresh)).toBe(true)
    expect(target.network.isBanned(honest.libp2p.peerId)).toBe(false)
  }

  function attackerStanding (): { score: number, banned: boolean, lastReason: string } {
    return target.network.scores.standing(attacker.peerId.toString())
  }

  it('answers a frame of exactly the maximum frame size', async () => {
    const { frame, block } = storeChunkFrameOfSize(11, DEFAULT_MAX_FRAME_SIZE, 1024 * 1024)
    expect(frame.byteLength).toBe(DEFAULT_MAX_FRAME_SIZE)
    const raw = await RawStream.open(attacker, target)
    expect(await raw.writeFrame(frame)).toBe(true)
    const [response] = await raw.waitForResponses(1)
    expect(idOf(response)).toBe(11)
    expect(response?.body).toBe('storeChunk')
    expect(response?.storeChunk?.status).toBe(Status.OK)
    expect(await target.has(cidForBlock(block))).toBe(true)
    await raw.closeWrite()
    expect((await raw.ended()).reset).toBe(false)
    expect(attackerStanding().score).toBe(0)
    await assertStillServes()
  })

  it('resets the stream on a frame one byte over the maximum, stores nothing and penalises the sender', async () => {
    const { frame, block } = storeChunkFrameOfSize(12, DEFAULT_MAX_FRAME_SIZE + 1, 1024 * 1024)
    expect(frame.byteLength).toBe(DEFAULT_MAX_FRAME_SIZE + 1)
    const raw = await RawStream.open(attacker, target)
    await raw.writeFrame(frame)
    const ending = await raw.ended()
    expect(ending.reset).toBe(true)
    expect(raw.responses()).toHaveLength(0)
    expect(await target.has(cidForBlock(block))).toBe(false)
    expect(attackerStanding().score).toBeLessThan(0)
    await assertStillServes()
  })

  it('resets the stream on a length prefix announcing a frame over the maximum, before the frame arrives', async () => {
    const raw = await RawStream.open(attacker, target)
    // A prefix announcing a 4 GiB frame, and a few bytes of it.
    await raw.write(Uint8Array.from([...varint(2 ** 32), 1, 2, 3]))
    const ending = await raw.ended()
    expect(ending.reset).toBe(true)
    expect(raw.responses()).toHaveLength(0)
    await assertStillServes()
  })

  it('answers two pipelined frames of exactly the maximum size on one stream', async () => {
    const first = storeChunkFrameOfSize(21, DEFAULT_MAX_FRAME_SIZE, 1024 * 1024)
    const second = storeChunkFrameOfSize(22, DEFAULT_MAX_FRAME_SIZE, 1024 * 1024)
    const raw = await RawStream.open(attacker, target)
    await raw.write(Buffer.concat([lp.encode.single(first.frame).subarray(), lp.encode.single(second.frame).subarray()]))
    const responses = await raw.waitForResponses(2)
    expect(responses.map(r => idOf(r)).sort()).toEqual([21, 22])
    expect(responses.map(r => r.storeChunk?.status)).toEqual([Status.OK, Status.OK])
    expect(await target.has(cidForBlock(first.block))).toBe(true)
    expect(await target.has(cidForBlock(second.block))).toBe(true)
    await raw.closeWrite()
    await assertStillServes()
  })

  it('ends the stream on a truncated frame (prefix says 100, 10 bytes sent, write side closed)', async () => {
    const raw = await RawStream.open(attacker, target)
    expect(await raw.write(Uint8Array.from([100, ...randomBytes(10)]))).toBe(true)
    await raw.closeWrite()
    const ending = await raw.ended()
    expect(['closed', 'reset', 'aborted']).toContain(ending.status)
    expect(raw.responses()).toHaveLength(0)
    await assertStillServes()
  })

  it('resets the stream on a length prefix that is not a valid varint', async () => {
    // Ten continuation bytes: no unsigned varint of a sane length looks like this.
    const raw = await RawStream.open(attacker, target)
    expect(await raw.write(new Uint8Array(10).fill(0xff))).toBe(true)
    // The write side stays open: the node must notice by itself, not wait for more bytes or the idle timeout.
    const ending = await raw.ended(5000)
    expect(ending.reset).toBe(true)
    expect(raw.responses()).toHaveLength(0)
    expect(attackerStanding().score).toBeLessThan(0)
    await assertStillServes()
  })

  it('survives 4 KiB of random bytes: the stream ends, anything answered is INVALID', async () => {
    for (let round = 0; round < 3; round++) {
      const sender = round === 0 ? attacker : await bareNode()
      if (sender !== attacker) {
        extra.push(sender)
      }
      const raw = await RawStream.open(sender, target)
      await raw.write(randomBytes(4096))
      await raw.closeWrite()
      const ending = await raw.ended()
      expect(['closed', 'reset', 'aborted']).toContain(ending.status)
      for (const response of raw.responses()) {
        expect(statusOf(response)).toBe(Status.INVALID)
      }
    }
    await assertStillServes()
  })

  it('answers a well-framed but undecodable protobuf with INVALID in the error arm', async () => {
    const raw = await RawStream.open(attacker, target)
    expect(await raw.writeFrame(Uint8Array.from([0xff, 0xff, 0xff]))).toBe(true)
    const [response] = await raw.waitForResponses(1)
    expect(response?.body).toBe('error')
    expect(response?.error?.status).toBe(Status.INVALID)
    expect(idOf(response)).toBe(0)
    // Field 15 on the wire: key (15 << 3 | 2) = 0x7a.
    expect(Array.from(pb.Response.encode(response!).finish())).toContain(0x7a)
    expect(attackerStanding().score).toBeLessThan(0)
    await raw.closeWrite()
    await raw.ended()
    await assertStillServes()
  })

  it('answers a Request with an id and no body with INVALID and the same id', async () => {
    const raw = await RawStream.open(attacker, target)
    expect(await raw.writeRequest({ id: 1234567 })).toBe(true)
    const [response] = await raw.waitForResponses(1)
    expect(idOf(response)).toBe(1234567)
    expect(response?.body).toBe('error')
    expect(response?.error?.status).toBe(Status.INVALID)
    await raw.closeWrite()
    await raw.ended()
    await assertStillServes()
  })

  it('answers an empty frame (a Request with id 0 and no body) with INVALID', async () => {
    // A zero-length frame is the valid encoding of Request {}: it must be answered, not dropped.
    const raw = await RawStream.open(attacker, target)
    expect(await raw.write(Uint8Array.from([0]))).toBe(true)
    const [response] = await raw.waitForResponses(1, 5000)
    expect(idOf(response)).toBe(0)
    expect(statusOf(response!)).toBe(Status.INVALID)
    await raw.closeWrite()
    await raw.ended()
    await assertStillServes()
  })

  it('answers retrieve_chunk with a garbage CID with retrieve_chunk INVALID, per request id', async () => {
    const garbage: Uint8Array[] = [
      randomBytes(36),
      new Uint8Array(0),
      Uint8Array.from([0x01, 0x55, 0x12, 0x20, 1, 2, 3]), // digest cut short
      Uint8Array.from([0x01, 0x70, 0x12, 0x20, ...randomBytes(32)]), // dag-pb, not raw
      Uint8Array.from([0x01, 0x55, 0x13, 0x40, ...randomBytes(64)]) // sha2-512
    ]
    const raw = await RawStream.open(attacker, target)
    for (const [i, cid] of garbage.entries()) {
      expect(await raw.writeRequest({ id: 100 + i, retrieveChunk: { cid } })).toBe(true)
    }
    const responses = await raw.waitForResponses(garbage.length)
    expect(responses.map(r => idOf(r)).sort()).toEqual(garbage.map((_, i) => 100 + i))
    for (const response of responses) {
      expect(response.body).toBe('retrieveChunk')
      expect(response.retrieveChunk?.status).toBe(Status.INVALID)
      expect(response.retrieveChunk?.data == null || response.retrieveChunk.data.byteLength === 0).toBe(true)
    }
    await raw.closeWrite()
    await raw.ended()
    await assertStillServes()
  })

  it('answers StoreChunk with bytes that do not match the CID with INVALID, stores nothing and penalises the sender', async () => {
    const block = randomBytes(1000)
    const cid = cidForBlock(block)
    const wrong = Uint8Array.from(block)
    wrong[0]! ^= 0xff
    const raw = await RawStream.open(attacker, target)
    expect(await raw.writeRequest({ id: 77, storeChunk: { cid: cid.bytes, data: wrong } })).toBe(true)
    const [response] = await raw.waitForResponses(1)
    expect(idOf(response)).toBe(77)
    expect(response?.body).toBe('storeChunk')
    expect(response?.storeChunk?.status).toBe(Status.INVALID)
    expect(await target.storage.has(cid)).toBe(false)
    expect(await target.storage.has(cidForBlock(wrong))).toBe(false)
    const standing = attackerStanding()
    expect(standing.banned || standing.score < 0).toBe(true)
    await assertStillServes()
  })

  it('keeps serving through every attack in a row, each from a fresh peer', async () => {
    const block = randomBytes(2000)
    const wrong = Uint8Array.from(block, (b, i) => i === 7 ? b ^ 1 : b)
    const attacks: Array<[string, (raw: RawStream) => Promise<void>]> = [
      ['over the limit', async raw => { await raw.writeFrame(storeChunkFrameOfSize(1, DEFAULT_MAX_FRAME_SIZE + 1, 1024 * 1024).frame) }],
      ['huge prefix', async raw => { await raw.write(Uint8Array.from(varint(2 ** 40))) }],
      ['truncated', async raw => { await raw.write(Uint8Array.from([100, ...randomBytes(10)])) }],
      ['bad varint', async raw => { await raw.write(new Uint8Array(12).fill(0xff)) }],
      ['random', async raw => { await raw.write(randomBytes(4096)) }],
      ['undecodable', async raw => { await raw.writeFrame(Uint8Array.from([0xff, 0xff, 0xff])) }],
      ['empty frame', async raw => { await raw.write(Uint8Array.from([0])) }],
      ['no body', async raw => { await raw.writeRequest({ id: 3 }) }],
      ['garbage cid', async raw => { await raw.writeRequest({ id: 4, retrieveChunk: { cid: randomBytes(20) } }) }],
      ['wrong bytes', async raw => { await raw.writeRequest({ id: 5, storeChunk: { cid: cidForBlock(block).bytes, data: wrong } }) }]
    ]
    for (const [name, attack] of attacks) {
      const sender = await bareNode()
      extra.push(sender)
      const raw = await RawStream.open(sender, target)
      await attack(raw)
      await raw.closeWrite()
      // Give the node a moment to act on the bytes, then drop the stream whatever happened.
      await waitFor(() => raw.done, `the ${name} stream to end`, 2000).catch(() => { raw.stream.abort(new Error('test done')) })
      const got = await honest.retrieveBytes(publishedCid, { signal: AbortSignal.timeout(WAIT_MS) })
      expect(Buffer.from(got).equals(published), `retrieval after "${name}"`).toBe(true)
    }
    expect(await target.storage.has(cidForBlock(block))).toBe(false)
    expect(await target.storage.has(cidForBlock(wrong))).toBe(false)
    await assertStillServes()
  })

  it('bans a peer after repeated violations, resets its new streams and keeps serving other peers', async () => {
    const raw = await RawStream.open(attacker, target)
    // Undecodable frames until the node gives up on this peer.
    for (let i = 0; i < 10 && !target.network.isBanned(attacker.peerId); i++) {
      if (!(await raw.writeFrame(Uint8Array.from([0xff, 0xff, 0xff])))) {
        break
      }
      await waitFor(() => raw.responses().length > i || target.network.isBanned(attacker.peerId), 'the violation to be counted')
    }
    expect(target.network.isBanned(attacker.peerId)).toBe(true)
    expect(attackerStanding().banned).toBe(true)
    expect((await raw.ended()).reset).toBe(true)

    // A new stream from the banned peer is reset without an answer, even to a valid request.
    const again = await RawStream.open(attacker, target).catch(() => undefined)
    if (again != null) {
      await again.writeRequest({ id: 1, retrieveChunk: { cid: Uint8Array.from([0x01, 0x55, 0x12, 0x20, ...new Uint8Array(32)]) } })
      expect((await again.ended()).reset).toBe(true)
      expect(again.responses()).toHaveLength(0)
    }

    // Another bare peer, never misbehaving, is still answered on a raw stream.
    const bystander = await bareNode()
    extra.push(bystander)
    const ok = await RawStream.open(bystander, target)
    const manifestCid = parseCid(publishedCid)
    await ok.writeRequest({ id: 5, retrieveChunk: { cid: manifestCid.bytes } })
    const [response] = await ok.waitForResponses(1)
    expect(idOf(response)).toBe(5)
    expect(response?.retrieveChunk?.status).toBe(Status.OK)
    expect(Buffer.from(response!.retrieveChunk!.data!).equals(Buffer.from((await target.storage.get(manifestCid))!))).toBe(true)
    await ok.closeWrite()
    expect(target.network.isBanned(bystander.peerId)).toBe(false)
    await assertStillServes()
  })
})
