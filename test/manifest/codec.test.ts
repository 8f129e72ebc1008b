import { describe, it, expect } from 'vitest'
import { CHUNK_SIZE } from '../../src/chunker/index.js'
import { cidForBlock } from '../../src/cid.js'
import {
  MAX_CHUNKS_PER_MANIFEST, MAX_CONTENT_SIZE, MAX_MANIFEST_BLOCK_SIZE, createManifest, decodeManifest, encodeManifest,
  manifestBlock, verifyManifestBlock, type Manifest
} from '../../src/manifest/index.js'
import {
  ABC_CID, ABC_MANIFEST_HEX, ABC_SHA256, EMPTY_SHA256, fakeCid, fakeSha, fromHex, toHex
} from './fixtures.js'

const invalid = { name: 'InvalidInputError' }

function expectSameManifest (actual: Manifest, expected: Manifest): void {
  expect(actual.size).toBe(expected.size)
  expect(toHex(actual.sha256)).toBe(toHex(expected.sha256))
  expect(actual.chunkCids.map(String)).toEqual(expected.chunkCids.map(String))
}

const abc = (): Manifest => createManifest({ chunkCids: [cidForBlock(new TextEncoder().encode('abc'))], sha256: fromHex(ABC_SHA256), size: 3 })

describe('encodeManifest', () => {
  it('writes the exact bytes worked out by hand for "abc"', () => {
    expect(toHex(encodeManifest(abc()))).toBe(ABC_MANIFEST_HEX)
  })

  it('writes the exact bytes worked out by hand for the empty content (size 0 left out)', () => {
    const manifest = createManifest({ chunkCids: [], sha256: fromHex(EMPTY_SHA256), size: 0 })
    expect(toHex(encodeManifest(manifest))).toBe('1220' + EMPTY_SHA256)
  })

  it('writes a multi-byte size varint by hand: 262145 = 81 80 10', () => {
    const manifest = createManifest({ chunkCids: [fakeCid(0x11), fakeCid(0x22)], sha256: fakeSha(0x33), size: CHUNK_SIZE + 1 })
    const expected = '0a24' + '01551220' + '11'.repeat(32) + '0a24' + '01551220' + '22'.repeat(32) +
      '1220' + '33'.repeat(32) + '18818010'
    expect(toHex(encodeManifest(manifest))).toBe(expected)
  })

  it('is deterministic: the same manifest encodes to the same bytes every time', () => {
    const one = createManifest({ chunkCids: [fakeCid(1), fakeCid(2), fakeCid(3)], sha256: fakeSha(9), size: 3 * CHUNK_SIZE })
    const two = createManifest({ chunkCids: [fakeCid(1), fakeCid(2), fakeCid(3)], sha256: fakeSha(9), size: 3 * CHUNK_SIZE })
    const a = encodeManifest(one)
    expect(toHex(encodeManifest(one))).toBe(toHex(a))
    expect(toHex(encodeManifest(two))).toBe(toHex(a))
    expect(manifestBlock(one).cid.equals(manifestBlock(two).cid)).toBe(true)
  })

  it('returns a plain Uint8Array of exactly the encoded length', () => {
    const bytes = encodeManifest(abc())
    expect(bytes.constructor).toBe(Uint8Array)
    expect(bytes.buffer.byteLength).toBe(bytes.byteLength)
  })

  it('validates a manifest that did not come from createManifest', () => {
    expect(() => encodeManifest({ chunkCids: [], sha256: fakeSha(1), size: 5 })).toThrowError(expect.objectContaining(invalid))
  })

  it('encodes content of MAX_CONTENT_SIZE within MAX_MANIFEST_BLOCK_SIZE, and refuses one chunk more', () => {
    const cid = fakeCid(7)
    const atLimit = createManifest({ chunkCids: new Array(MAX_CHUNKS_PER_MANIFEST).fill(cid), sha256: fakeSha(1), size: MAX_CONTENT_SIZE })
    const bytes = encodeManifest(atLimit)
    expect(bytes.byteLength).toBe(1048574)
    expect(bytes.byteLength).toBeLessThanOrEqual(MAX_MANIFEST_BLOCK_SIZE)
    expect(decodeManifest(bytes).size).toBe(MAX_CONTENT_SIZE)

    const over = createManifest({ chunkCids: new Array(MAX_CHUNKS_PER_MANIFEST + 1).fill(cid), sha256: fakeSha(1), size: MAX_CONTENT_SIZE + 1 })
    expect(() => encodeManifest(over)).toThrowError(/tree manifest/)
  })
})

describe('decodeManifest', () => {
  it('round-trips manifests of several sizes', () => {
    for (const size of [0, 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE + 7]) {
      const chunkCids = Array.from({ length: Math.ceil(size / CHUNK_SIZE) }, (_, i) => fakeCid(i + 1))
      const manifest = createManifest({ chunkCids, sha256: fakeSha(size % 256), size })
      const bytes = encodeManifest(manifest)
      const decoded = decodeManifest(bytes)
      expectSameManifest(decoded, manifest)
      expect(toHex(encodeManifest(decoded))).toBe(toHex(bytes))
    }
  })

  it('decodes the hand-written "abc" manifest', () => {
    const decoded = decodeManifest(fromHex(ABC_MANIFEST_HEX))
    expect(decoded.size).toBe(3)
    expect(toHex(decoded.sha256)).toBe(ABC_SHA256)
    expect(toHex(decoded.chunkCids[0]!.bytes)).toBe(ABC_CID)
  })

  it('does not alias the caller\'s buffer', () => {
    const bytes = fromHex(ABC_MANIFEST_HEX)
    const decoded = decodeManifest(bytes)
    bytes.fill(0)
    expect(toHex(decoded.sha256)).toBe(ABC_SHA256)
    expect(toHex(decoded.chunkCids[0]!.bytes)).toBe(ABC_CID)
  })

  it('accepts a block of exactly maxSize bytes and refuses one byte more', () => {
    const bytes = fromHex(ABC_MANIFEST_HEX)
    expect(decodeManifest(bytes, { maxSize: bytes.byteLength }).size).toBe(3)
    expect(() => decodeManifest(bytes, { maxSize: bytes.byteLength - 1 })).toThrowError(/larger than the limit/)
  })

  it('refuses a block larger than MAX_MANIFEST_BLOCK_SIZE before decoding it', () => {
    expect(() => decodeManifest(new Uint8Array(MAX_MANIFEST_BLOCK_SIZE + 1))).toThrowError(/larger than the limit of 1048576/)
  })

  it('refuses a bad maxSize and a non-Uint8Array block', () => {
    expect(() => decodeManifest(fromHex(ABC_MANIFEST_HEX), { maxSize: -1 })).toThrowError(expect.objectContaining(invalid))
    expect(() => decodeManifest('0a24' as unknown as Uint8Array)).toThrowError(expect.objectContaining(invalid))
  })

  const cid = ABC_CID
  const sha = ABC_SHA256
  const rejects: Array<[string, string, RegExp]> = [
    ['fields out of order: sha256 before the chunk CIDs', '1220' + sha + '0a24' + cid + '1803', /canonical/],
    ['fields out of order: size first', '1803' + '0a24' + cid + '1220' + sha, /canonical/],
    ['a non-minimal size varint (83 00 for 3)', '0a24' + cid + '1220' + sha + '188300', /canonical/],
    ['a non-minimal length prefix (a4 00 for 36)', '0aa400' + cid + '1220' + sha + '1803', /canonical/],
    ['a size of 0 written out', '1220' + EMPTY_SHA256 + '1800', /canonical/],
    ['a repeated sha256 field', '0a24' + cid + '1220' + '00'.repeat(32) + '1220' + sha + '1803', /canonical/],
    ['a repeated size field', '0a24' + cid + '1220' + sha + '1804' + '1803', /canonical/],
    ['a field 4 (tree node CIDs) that is not a CID', ABC_MANIFEST_HEX + '2203616263', /is 3 bytes/],
    ['field 1 with the varint wire type', '0803' + ABC_MANIFEST_HEX, /field 1 has the wrong wire type/],
    ['a truncated buffer (last byte cut)', ABC_MANIFEST_HEX.slice(0, -2), /not a valid ContentManifest/],
    ['a truncated buffer (cut inside a CID)', ABC_MANIFEST_HEX.slice(0, 30), /not a valid ContentManifest/],
    ['a length prefix past the end', '0aff01' + cid, /not a valid ContentManifest/],
    ['a dag-pb chunk CID', '0a24' + '01701220' + sha + '1220' + sha + '1803', /chunk CID 0 is not a DDS CID/],
    ['a 34-byte CIDv0 chunk CID', '0a22' + '1220' + sha + '1220' + sha + '1803', /chunk CID 0 is 34 bytes/],
    ['a 36-byte non-CID chunk entry', '0a24' + 'ff'.repeat(36) + '1220' + sha + '1803', /chunk CID 0/],
    ['a 31-byte sha256', '0a24' + cid + '121f' + sha.slice(2) + '1803', /sha256/],
    ['no sha256 at all', '0a24' + cid + '1803', /sha256/],
    ['a size that needs two chunks', '0a24' + cid + '1220' + sha + '18818010', /2 chunk/],
    ['a size with no chunk', '1220' + sha + '1803', /1 chunk/],
    ['a size past 2^53', '0a24' + cid + '1220' + sha + '18ffffffffffffffffff01', /size/],
    ['an empty buffer (no sha256)', '', /sha256/]
  ]
  it.each(rejects)('refuses %s with InvalidInputError', (_name, hex, message) => {
    const attempt = (): Manifest => decodeManifest(fromHex(hex))
    expect(attempt).toThrowError(expect.objectContaining(invalid))
    expect(attempt).toThrowError(message)
  })

  it('accepts a manifest with a field from a newer version, reading the fields it knows', () => {
    // field 20, length-delimited "abc": unknown to this version
    const manifest = decodeManifest(fromHex(ABC_MANIFEST_HEX + 'a20103616263'))
    expect(manifest.size).toBe(3)
    expect(manifest.chunkCids).toHaveLength(1)
  })

  it('refuses random bytes with InvalidInputError and nothing else', () => {
    let x = 12345
    const next = (): number => { x = (x * 1103515245 + 12345) >>> 0; return x >>> 24 }
    for (let round = 0; round < 500; round++) {
      const bytes = Uint8Array.from({ length: 1 + (round % 120) }, next)
      expect(() => decodeManifest(bytes)).toThrowError(expect.objectContaining(invalid))
    }
  })

  it('refuses every truncation and every single-byte change of a valid block', () => {
    const block = fromHex(ABC_MANIFEST_HEX)
    for (let end = 0; end < block.byteLength; end++) {
      expect(() => decodeManifest(block.subarray(0, end))).toThrowError(expect.objectContaining(invalid))
    }
    // Changing any tag or length byte must be refused (digests and the size value are free to vary).
    const structural = [0, 1, 2, 3, 4, 5, 38, 39, 72]
    for (const i of structural) {
      const changed = block.slice()
      changed[i] = changed[i]! ^ 0x01
      expect(() => decodeManifest(changed), `byte ${i}`).toThrowError(expect.objectContaining(invalid))
    }
  })
})

describe('manifestBlock and verifyManifestBlock', () => {
  it('names the block by the raw sha2-256 CID of its bytes', () => {
    const { cid, bytes } = manifestBlock(abc())
    expect(toHex(bytes)).toBe(ABC_MANIFEST_HEX)
    expect(cid.equals(cidForBlock(bytes))).toBe(true)
    expectSameManifest(verifyManifestBlock(cid, bytes), abc())
  })

  it('throws IntegrityError when the bytes do not hash to the CID', () => {
    const { cid } = manifestBlock(abc())
    const other = encodeManifest(createManifest({ chunkCids: [], sha256: fakeSha(1), size: 0 }))
    expect(() => verifyManifestBlock(cid, other)).toThrowError(expect.objectContaining({ name: 'IntegrityError' }))
    const flipped = fromHex(ABC_MANIFEST_HEX)
    flipped[10] = flipped[10]! ^ 0xff
    expect(() => verifyManifestBlock(cid, flipped)).toThrowError(expect.objectContaining({ name: 'IntegrityError' }))
  })

  it('throws InvalidInputError for a block that matches its CID but is not a manifest', () => {
    const junk = new TextEncoder().encode('not a manifest')
    expect(() => verifyManifestBlock(cidForBlock(junk), junk)).toThrowError(expect.objectContaining(invalid))
  })

  it('throws InvalidInputError for a CID that is not a DDS CID', () => {
    expect(() => verifyManifestBlock('nope' as never, fromHex(ABC_MANIFEST_HEX))).toThrowError(expect.objectContaining(invalid))
  })
})
