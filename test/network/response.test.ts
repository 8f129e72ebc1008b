import { describe, it, expect } from 'vitest'
import { randomBytes } from 'node:crypto'
import { Uint8ArrayList } from 'uint8arraylist'
import protobuf from 'protobufjs/minimal.js'
import { decodeResponse, encodeResponse } from '../../src/network/response.js'
import { pb, Status, uint64ToNumber, type ResponseProps } from '../../src/pb/index.js'
import { cidForBlock, piecesMatchCid } from '../../src/cid.js'

/** Deterministic pseudo-random numbers, so a failure can be replayed. */
function prng (seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32
  }
}

/** `bytes` cut at random points into pieces (some empty), each a view of a separate buffer. */
function split (bytes: Uint8Array, random: () => number, pieces: number): Uint8ArrayList {
  const cuts = [...Array(pieces - 1)].map(() => Math.floor(random() * (bytes.byteLength + 1))).sort((a, b) => a - b)
  const list = new Uint8ArrayList()
  let at = 0
  for (const cut of [...cuts, bytes.byteLength]) {
    // each piece sits in the middle of its own, larger buffer, as received bytes do
    const buffer = new Uint8Array(cut - at + 8)
    buffer.set(bytes.subarray(at, cut), 4)
    list.append(buffer.subarray(4, 4 + cut - at))
    at = cut
  }
  return list
}

/** What protobufjs reads from a frame, in the shape `decodeResponse` gives. */
interface Shape { id: number, body: string | undefined, status?: number | null, error?: string | null, data?: Uint8Array | null }

function reference (frame: Uint8Array): Shape {
  const response = pb.Response.decode(frame)
  const chunk = response.retrieveChunk
  return {
    id: uint64ToNumber(response.id, 'id'),
    body: response.body,
    ...(response.body === 'retrieveChunk' ? { status: chunk!.status, error: chunk!.error, data: chunk!.data } : {})
  }
}

function decoded (list: Uint8ArrayList): Shape {
  const { response, chunkData } = decodeResponse(list)
  const chunk = response.retrieveChunk
  return {
    id: uint64ToNumber(response.id, 'id'),
    body: response.body,
    ...(response.body === 'retrieveChunk' ? { status: chunk!.status, error: chunk!.error, data: chunkData!.subarray() } : {})
  }
}

function expectSame (frame: Uint8Array, list: Uint8ArrayList): void {
  const expected = reference(frame)
  const got = decoded(list)
  expect({ ...got, data: got.data != null ? Buffer.from(got.data) : undefined })
    .toEqual({ ...expected, data: expected.data != null ? Buffer.from(expected.data) : undefined })
}

describe('decodeResponse', () => {
  it('reads RetrieveChunk answers exactly as protobufjs does, however the frame is cut', () => {
    const random = prng(1)
    const answers: ResponseProps[] = [
      { id: 1, retrieveChunk: { status: Status.OK, data: randomBytes(262144) } },
      { id: 2 ** 40 + 3, retrieveChunk: { status: Status.OK, data: randomBytes(1000) } },
      { id: 7, retrieveChunk: { status: Status.NOT_FOUND, error: 'not here: ünïcode ✓' } },
      { id: 8, retrieveChunk: { status: Status.OK, data: new Uint8Array(0) } },
      { id: 9, retrieveChunk: {} },
      { id: 0, retrieveChunk: { status: Status.OK, data: randomBytes(17) } },
      { retrieveChunk: { status: Status.OK, data: randomBytes(300) } }
    ]
    for (const answer of answers) {
      const frame = pb.Response.encode(answer).finish()
      for (const pieces of [1, 2, 5, 40]) {
        expectSame(frame, split(frame, random, pieces))
      }
    }
  })

  it('keeps the data of a RetrieveChunk answer as views of the received pieces (no copy)', () => {
    const data = randomBytes(262144)
    const frame = pb.Response.encode({ id: 5, retrieveChunk: { status: Status.OK, data } }).finish()
    const list = split(frame, prng(2), 5)
    const buffers = new Set([...list].map(b => b.buffer))
    const { chunkData } = decodeResponse(list)
    expect(chunkData!.byteLength).toBe(data.byteLength)
    expect([...chunkData!].length).toBeGreaterThan(1)
    for (const piece of chunkData!) {
      expect(buffers.has(piece.buffer)).toBe(true)
    }
    expect(Buffer.compare(chunkData!.subarray(), data)).toBe(0)
  })

  it('leaves every other frame to protobufjs, with the same result', () => {
    const random = prng(3)
    const w = (): protobuf.Writer => protobuf.Writer.create()
    const chunk = pb.RetrieveChunkResponse.encode({ status: Status.OK, data: randomBytes(64) }).finish()
    const frames: Uint8Array[] = [
      pb.Response.encode({ id: 3, storeChunk: { status: Status.OK } }).finish(),
      pb.Response.encode({ id: 4, catalog: { status: Status.OK, entries: [{ cid: randomBytes(36), size: 5, name: 'a' }], more: true } }).finish(),
      pb.Response.encode({ id: 0, error: { status: Status.INVALID, error: 'undecodable request' } }).finish(),
      pb.Response.encode({ id: 6 }).finish(),
      new Uint8Array(0),
      // an unknown field in the answer, and one in the chunk
      w().uint32(8).uint64(11).uint32(26).bytes(chunk).uint32(8 * 9).uint32(1).finish(),
      w().uint32(8).uint64(12).uint32(26).fork().uint32(8).uint32(1).uint32(8 * 9 + 2).bytes(randomBytes(5)).uint32(26).bytes(randomBytes(9)).ldelim().finish(),
      // the chunk sent twice (protobufjs merges the two), the id twice (the last wins)
      w().uint32(8).uint64(13).uint32(26).bytes(chunk).uint32(26).bytes(pb.RetrieveChunkResponse.encode({ error: 'second' }).finish()).finish(),
      w().uint32(8).uint64(14).uint32(8).uint64(15).uint32(26).bytes(chunk).finish(),
      // data sent twice in one chunk (the last wins)
      w().uint32(8).uint64(16).uint32(26).fork().uint32(26).bytes(randomBytes(4)).uint32(26).bytes(randomBytes(6)).ldelim().finish(),
      // a status past int32
      w().uint32(8).uint64(17).uint32(26).fork().uint32(8).uint64(2 ** 33).ldelim().finish()
    ]
    for (const frame of frames) {
      for (const pieces of [1, 3]) {
        expectSame(frame, split(frame, random, pieces))
      }
    }
  })

  it('refuses a malformed frame as protobufjs does, wherever the frame is cut', () => {
    const random = prng(4)
    const good = pb.Response.encode({ id: 21, retrieveChunk: { status: Status.OK, data: randomBytes(5000) } }).finish()
    const frames = [
      good.subarray(0, good.byteLength - 1), // truncated data
      good.subarray(0, 3), // truncated inside the chunk's length
      Uint8Array.of(0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), // an 11-byte varint
      Uint8Array.of(0x1a, 0x05, 0x08), // a chunk longer than the frame
      Uint8Array.of(0x0f) // wire type 7
    ]
    for (const frame of frames) {
      expect(() => pb.Response.decode(frame)).toThrow()
      for (const pieces of [1, 4]) {
        expect(() => decodeResponse(split(frame, random, pieces))).toThrow()
      }
    }
  })
})

describe('encodeResponse', () => {
  it('encodes every answer byte for byte as protobufjs does, a large chunk without copying its data', () => {
    const data = randomBytes(262144)
    const answers: ResponseProps[] = [
      { id: 1, retrieveChunk: { status: Status.OK, data } },
      { id: 2 ** 40 + 3, retrieveChunk: { status: Status.OK, data } },
      { id: 0, retrieveChunk: { status: Status.OK, data } },
      { retrieveChunk: { status: Status.OK, data } },
      { id: 4, retrieveChunk: { data } },
      { id: pb.Request.decode(pb.Request.encode({ id: 2 ** 52 + 1 }).finish()).id, retrieveChunk: { status: Status.OK, data } },
      { id: 5, retrieveChunk: { status: Status.OK, data: data.subarray(0, 100) } },
      { id: 6, retrieveChunk: { status: Status.ERROR, error: 'x', data } },
      { id: 7, retrieveChunk: { status: Status.NOT_FOUND, error: 'not here' } },
      { id: 8, storeChunk: { status: Status.OK } },
      { id: 9, error: { status: Status.INVALID, error: 'bad' } }
    ]
    for (const answer of answers) {
      const encoded = encodeResponse(answer)
      const joined = encoded instanceof Uint8Array ? encoded : encoded.subarray()
      expect(Buffer.compare(joined, pb.Response.encode(answer).finish()), JSON.stringify({ ...answer, retrieveChunk: undefined })).toBe(0)
    }
    const split = encodeResponse(answers[0]!)
    expect(split).toBeInstanceOf(Uint8ArrayList)
    expect([...(split as Uint8ArrayList)].some(piece => piece.buffer === data.buffer && piece.byteOffset === data.byteOffset)).toBe(true)
  })
})

describe('piecesMatchCid', () => {
  it('hashes a block in pieces to the CID of the whole block', () => {
    const block = randomBytes(262144 + 7)
    const cid = cidForBlock(block)
    const random = prng(5)
    for (const pieces of [1, 2, 9]) {
      expect(piecesMatchCid(cid, split(block, random, pieces))).toBe(true)
    }
    const wrong = Uint8Array.from(block)
    wrong[100_000] = wrong[100_000]! ^ 1
    expect(piecesMatchCid(cid, split(wrong, random, 3))).toBe(false)
    expect(piecesMatchCid(cid, split(block.subarray(1), random, 3))).toBe(false)
    expect(piecesMatchCid(cid, [])).toBe(false)
  })
})
