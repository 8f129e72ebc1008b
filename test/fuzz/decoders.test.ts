/**
 * Every decoder of what a peer or an HTTP client sends, fed by property-based
 * generators (fast-check): random bytes, valid encodings with bytes flipped,
 * cut or inserted, and structured values at and past their limits. Each
 * either decodes to something within its bounds or throws its typed error;
 * nothing else escapes, nothing hangs, and a valid encoding round-trips.
 *
 * `FUZZ_RUNS` sets the cases per property (a few thousand in CI);
 * `npm run attack -- fuzz` sends a million frames to a running node.
 */
import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import protobuf from 'protobufjs/minimal.js'
import * as lp from 'it-length-prefixed'
import { Uint8ArrayList } from 'uint8arraylist'
import { pb } from '../../src/pb/index.js'
import { FrameDecoder } from '../../src/network/frame-decoder.js'
import { decodeResponse } from '../../src/network/response.js'
import { decodeCatalogEntry } from '../../src/network/catalog.js'
import { decodeManifest, decodeManifestNode, encodeManifest, encodeManifestNode } from '../../src/manifest/codec.js'
import { createManifest } from '../../src/manifest/manifest.js'
import { cidForBlock, cidToString, parseCid, CID_BYTE_LENGTH } from '../../src/cid.js'
import { requestedSpan } from '../../src/gateway/content.js'
import { normalizeCid } from '../../src/gateway/request.js'

const RUNS = Number(process.env.FUZZ_RUNS ?? 2000)
const params = { numRuns: RUNS, seed: process.env.FUZZ_SEED != null ? Number(process.env.FUZZ_SEED) : undefined }

/** Calls `fn`; a thrown error must be one of `names` (the decoder's typed errors). */
function decodesOrThrows<T> (fn: () => T, names: string[]): T | undefined {
  try {
    return fn()
  } catch (err) {
    expect(err).toBeInstanceOf(Error)
    if (!names.includes((err as Error).name)) {
      throw new Error(`unexpected ${(err as Error).name}: ${(err as Error).message}`, { cause: err })
    }
    return undefined
  }
}

/** A valid encoding with some of its bytes flipped, cut, or with bytes inserted. */
function mutated (valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return fc.tuple(valid, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('flip', 'cut', 'insert')), { maxLength: 4 }))
    .map(([bytes, edits]) => {
      let out = Uint8Array.from(bytes)
      for (const [at, value, kind] of edits) {
        const i = out.length === 0 ? 0 : at % out.length
        if (kind === 'flip' && out.length > 0) {
          out[i] = out[i]! ^ (value | 1)
        } else if (kind === 'cut') {
          out = out.subarray(0, i)
        } else {
          out = Uint8Array.from([...out.subarray(0, i), value, ...out.subarray(i)])
        }
      }
      return out
    })
}

const anyBytes = fc.uint8Array({ maxLength: 2048 })
const chunkCid = fc.uint8Array({ minLength: 1, maxLength: 64 }).map(bytes => cidForBlock(bytes))

/** Encoded manifests: one block, or a tree's root. */
const validManifest = fc.record({
  cids: fc.array(chunkCid, { minLength: 1, maxLength: 8 }),
  lastSize: fc.integer({ min: 1, max: 262144 }),
  name: fc.option(fc.stringMatching(/^[a-z0-9 _-]{1,36}\.wav$/), { nil: undefined })
}).map(({ cids, lastSize, name }) => encodeManifest(createManifest({
  chunkCids: cids,
  sha256: new Uint8Array(32).fill(7),
  size: (cids.length - 1) * 262144 + lastSize,
  name
})))

describe('fuzzed decoders', () => {
  it('FrameDecoder: any bytes in any slicing give frames within the limit, or a ProtocolError', () => {
    fc.assert(fc.property(fc.array(anyBytes, { maxLength: 8 }), (parts) => {
      const decoder = new FrameDecoder(1024, 4096)
      decodesOrThrows(() => {
        for (const part of parts) {
          for (const frame of decoder.decode(part)) {
            expect(frame.byteLength).toBeLessThanOrEqual(1024)
          }
          expect(decoder.pending).toBeLessThanOrEqual(4096)
        }
      }, ['ProtocolError'])
    }), params)
  })

  it('FrameDecoder: valid frames cut anywhere come out whole and in order', () => {
    fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 1024 }), { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 8 }), (frames, cuts) => {
      const stream = Buffer.concat(frames.map(f => lp.encode.single(f).subarray()))
      const points = [...new Set(cuts.map(c => stream.length === 0 ? 0 : c % stream.length))].sort((a, b) => a - b)
      const decoder = new FrameDecoder(1024, 64 * 1024)
      const out: Uint8Array[] = []
      let from = 0
      for (const to of [...points, stream.length]) {
        for (const frame of decoder.decode(stream.subarray(from, to))) {
          out.push(frame.subarray())
        }
        from = to
      }
      expect(out.map(f => Buffer.from(f).toString('hex'))).toEqual(frames.map(f => Buffer.from(f).toString('hex')))
      expect(decoder.pending).toBe(0)
    }), params)
  })

  it('Request and every message in it: decoding any bytes returns a message or throws an Error', () => {
    fc.assert(fc.property(fc.oneof(anyBytes, mutated(fc.record({
      id: fc.nat(),
      cid: fc.uint8Array({ maxLength: 40 }),
      data: fc.uint8Array({ maxLength: 64 })
    }).map(({ id, cid, data }) => pb.Request.encode({ id, storeChunk: { cid, data } }).finish()))), (bytes) => {
      for (const type of [pb.Request, pb.StoreChunkRequest, pb.RetrieveChunkRequest, pb.ReplicationInstruction, pb.CatalogRequest]) {
        try {
          type.decode(bytes)
        } catch (err) {
          expect(err).toBeInstanceOf(Error)
        }
      }
    }), params)
  })

  it('decodeResponse: the fast path reads a RetrieveChunk answer exactly as protobufjs does, and refuses what it refuses', () => {
    const valid = fc.record({
      id: fc.nat(),
      status: fc.integer({ min: 0, max: 7 }),
      error: fc.string({ maxLength: 20 }),
      data: fc.uint8Array({ maxLength: 300 })
    }).map(({ id, status, error, data }) => pb.Response.encode({ id, retrieveChunk: { status, error, data } }).finish())
    fc.assert(fc.property(fc.oneof(valid, mutated(valid), anyBytes), fc.nat(), (bytes, split) => {
      // the frame arrives in two pieces, as it would from a stream
      const at = bytes.length === 0 ? 0 : split % bytes.length
      const frame = new Uint8ArrayList(bytes.subarray(0, at), bytes.subarray(at))
      let expected: ReturnType<typeof pb.Response.decode> | undefined
      try {
        expected = pb.Response.decode(bytes)
      } catch {}
      let got: ReturnType<typeof decodeResponse> | undefined
      try {
        got = decodeResponse(frame)
      } catch (err) {
        expect(err).toBeInstanceOf(Error)
      }
      expect(got != null).toBe(expected != null)
      if (got != null && expected != null) {
        expect(Number(got.response.id)).toBe(Number(expected.id))
        expect(got.response.body).toBe(expected.body)
        if (expected.body === 'retrieveChunk') {
          expect(Buffer.from(got.chunkData!.subarray()).toString('hex')).toBe(Buffer.from(expected.retrieveChunk!.data ?? []).toString('hex'))
        }
      }
    }), params)
  })

  it('decodeResponse refuses a RetrieveChunk error text that is not UTF-8, as protobufjs does (found by the property above)', () => {
    const bytes = Uint8Array.from([26, 3, 18, 1, 161])
    expect(() => pb.Response.decode(bytes)).toThrow()
    expect(() => decodeResponse(new Uint8ArrayList(bytes))).toThrow()
  })

  it('decodeManifest: a manifest within its bounds, or InvalidInputError; one with only known fields is canonical', () => {
    fc.assert(fc.property(fc.oneof(validManifest, mutated(validManifest), anyBytes), (bytes) => {
      const manifest = decodesOrThrows(() => decodeManifest(bytes), ['InvalidInputError'])
      if (manifest != null) {
        // canonical unless it carries fields of a newer version (accepted, see codec.ts)
        const reader = protobuf.Reader.create(bytes)
        reader.discardUnknown = false
        const newer = (pb.ContentManifest.decode(reader).$unknowns ?? []).length > 0
        expect(newer || Buffer.from(encodeManifest(manifest)).equals(Buffer.from(bytes))).toBe(true)
        expect(manifest.size).toBeGreaterThanOrEqual(0)
      }
    }), params)
  })

  it('decodeManifestNode: exactly the expected CIDs in canonical form, or InvalidInputError', () => {
    const valid = fc.array(chunkCid, { minLength: 1, maxLength: 8 }).map(cids => encodeManifestNode(cids))
    fc.assert(fc.property(fc.oneof(valid, mutated(valid), anyBytes), fc.integer({ min: 0, max: 9 }), (bytes, expected) => {
      const cids = decodesOrThrows(() => decodeManifestNode(bytes, expected), ['InvalidInputError'])
      if (cids != null) {
        expect(cids).toHaveLength(expected)
        expect(Buffer.from(encodeManifestNode(cids)).equals(Buffer.from(bytes))).toBe(true)
      }
    }), params)
  })

  it('catalog entries from a CatalogResponse: a checked item, or InvalidInputError', () => {
    const entry = fc.record({
      cid: chunkCid.map(c => c.bytes),
      size: fc.oneof(fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER)),
      name: fc.string({ maxLength: 300 }),
      mediaType: fc.string({ maxLength: 300 }),
      metadata: fc.array(fc.record({ key: fc.string({ maxLength: 80 }), value: fc.string({ maxLength: 80 }) }), { maxLength: 6 })
    }).map(e => pb.CatalogResponse.encode({ status: 1, entries: [e] }).finish())
    fc.assert(fc.property(fc.oneof(entry, mutated(entry)), (bytes) => {
      let response: ReturnType<typeof pb.CatalogResponse.decode>
      try {
        response = pb.CatalogResponse.decode(bytes)
      } catch {
        return
      }
      for (const e of response.entries) {
        const item = decodesOrThrows(() => decodeCatalogEntry(e), ['InvalidInputError'])
        if (item != null) {
          expect(Number.isSafeInteger(item.size)).toBe(true)
        }
      }
    }), params)
  })

  it('CIDs from bytes and text: a DDS CID, or InvalidInputError', () => {
    const text = fc.oneof(fc.string({ maxLength: 80 }), chunkCid.map(c => cidToString(c)), chunkCid.map(c => cidToString(c)).chain(s => fc.nat().map(n => s.slice(0, n % (s.length + 1)))))
    fc.assert(fc.property(fc.oneof(text, fc.uint8Array({ maxLength: CID_BYTE_LENGTH + 4 }), mutated(chunkCid.map(c => c.bytes))), (value) => {
      const cid = decodesOrThrows(() => parseCid(value), ['InvalidInputError'])
      if (cid != null) {
        expect(cid.bytes.byteLength).toBe(CID_BYTE_LENGTH)
      }
      if (typeof value === 'string') {
        decodesOrThrows(() => normalizeCid(value), ['InvalidInputError'])
      }
    }), params)
  })

  it('HTTP Range headers: a span inside the content, or InvalidInputError / RangeNotSatisfiableError', () => {
    const number = fc.oneof(fc.nat(), fc.constant(''), fc.bigInt({ min: 0n, max: 10n ** 30n }).map(String), fc.constantFrom('-1', '1e3', ' 5', '0x10'))
    const header = fc.oneof(
      fc.string({ maxLength: 60 }),
      fc.tuple(fc.constantFrom('bytes', 'Bytes', 'items', ''), fc.array(fc.tuple(number, number), { minLength: 1, maxLength: 3 }))
        .map(([unit, ranges]) => `${unit}=${ranges.map(([a, b]) => `${a}-${b}`).join(',')}`)
    )
    fc.assert(fc.property(fc.nat({ max: 2 ** 40 }), fc.option(header, { nil: undefined }), (size, value) => {
      const span = decodesOrThrows(() => requestedSpan(size, value), ['InvalidInputError', 'RangeNotSatisfiableError'])
      if (span != null) {
        expect(span.offset).toBeGreaterThanOrEqual(0)
        expect(span.length).toBeGreaterThanOrEqual(0)
        expect(span.offset + span.length).toBeLessThanOrEqual(size)
      }
    }), params)
  })
})
