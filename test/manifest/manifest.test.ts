import { describe, it, expect } from 'vitest'
import { CID } from 'multiformats/cid'
import { create as createDigest } from 'multiformats/hashes/digest'
import { CHUNK_SIZE } from '../../src/chunker/index.js'
import { createManifest, chunkCount, chunkSpan, type ManifestInit } from '../../src/manifest/index.js'
import { fakeCid, fakeSha } from './fixtures.js'

const invalid = expect.objectContaining({ name: 'InvalidInputError' })

describe('createManifest', () => {
  it('accepts a valid manifest and owns copies of its fields', () => {
    const init = { chunkCids: [fakeCid(1), fakeCid(2)], sha256: fakeSha(3), size: CHUNK_SIZE + 1 }
    const manifest = createManifest(init)
    init.chunkCids.pop()
    init.sha256.fill(0)
    expect(manifest.chunkCids.length).toBe(2)
    expect(manifest.sha256).toEqual(fakeSha(3))
    expect(manifest.size).toBe(CHUNK_SIZE + 1)
  })

  it('accepts the empty content: no chunks, size 0', () => {
    expect(createManifest({ chunkCids: [], sha256: fakeSha(0), size: 0 }).chunkCids).toEqual([])
  })

  const dagPb = CID.createV1(0x70, createDigest(0x12, fakeSha(1)))
  const v0 = CID.createV0(createDigest(0x12, fakeSha(1)))
  const sha512 = CID.createV1(0x55, createDigest(0x13, new Uint8Array(64)))
  const cases: Array<[string, ManifestInit]> = [
    ['sha256 of 31 bytes', { chunkCids: [fakeCid(1)], sha256: new Uint8Array(31), size: 1 }],
    ['sha256 of 33 bytes', { chunkCids: [fakeCid(1)], sha256: new Uint8Array(33), size: 1 }],
    ['sha256 as a hex string', { chunkCids: [fakeCid(1)], sha256: 'ab' as unknown as Uint8Array, size: 1 }],
    ['a negative size', { chunkCids: [], sha256: fakeSha(1), size: -1 }],
    ['a fractional size', { chunkCids: [fakeCid(1)], sha256: fakeSha(1), size: 1.5 }],
    ['a NaN size', { chunkCids: [], sha256: fakeSha(1), size: Number.NaN }],
    ['a size past 2^53', { chunkCids: [], sha256: fakeSha(1), size: 2 ** 53 }],
    ['a size as a string', { chunkCids: [fakeCid(1)], sha256: fakeSha(1), size: '1' as unknown as number }],
    ['too few chunk CIDs', { chunkCids: [fakeCid(1)], sha256: fakeSha(1), size: CHUNK_SIZE + 1 }],
    ['too many chunk CIDs', { chunkCids: [fakeCid(1), fakeCid(2)], sha256: fakeSha(1), size: CHUNK_SIZE }],
    ['a chunk for empty content', { chunkCids: [fakeCid(1)], sha256: fakeSha(1), size: 0 }],
    ['a dag-pb chunk CID', { chunkCids: [dagPb], sha256: fakeSha(1), size: 1 }],
    ['a CIDv0 chunk CID', { chunkCids: [v0], sha256: fakeSha(1), size: 1 }],
    ['a sha2-512 chunk CID', { chunkCids: [sha512], sha256: fakeSha(1), size: 1 }],
    ['a non-CID chunk', { chunkCids: [{} as CID], sha256: fakeSha(1), size: 1 }],
    ['chunkCids not an array', { chunkCids: 'x' as unknown as CID[], sha256: fakeSha(1), size: 1 }]
  ]
  it.each(cases)('rejects %s with InvalidInputError', (_name, init) => {
    expect(() => createManifest(init)).toThrowError(invalid)
  })

  it('rejects a missing init', () => {
    expect(() => createManifest(undefined as unknown as ManifestInit)).toThrowError(invalid)
  })

  it('names the bad chunk CID by its index', () => {
    expect(() => createManifest({ chunkCids: [fakeCid(1), dagPb], sha256: fakeSha(1), size: CHUNK_SIZE + 1 }))
      .toThrowError(/chunk CID 1/)
  })
})

describe('chunkCount and chunkSpan', () => {
  it.each([
    [0, 0], [1, 1], [CHUNK_SIZE - 1, 1], [CHUNK_SIZE, 1], [CHUNK_SIZE + 1, 2], [3 * CHUNK_SIZE, 3], [3 * CHUNK_SIZE + 7, 4]
  ])('content of %i bytes has %i chunk(s)', (size, count) => {
    expect(chunkCount(size)).toBe(count)
  })

  it('gives each chunk its offset and length', () => {
    const size = 3 * CHUNK_SIZE + 7
    expect(chunkSpan(size, 0)).toEqual({ offset: 0, length: CHUNK_SIZE })
    expect(chunkSpan(size, 2)).toEqual({ offset: 2 * CHUNK_SIZE, length: CHUNK_SIZE })
    expect(chunkSpan(size, 3)).toEqual({ offset: 3 * CHUNK_SIZE, length: 7 })
    expect(chunkSpan(1, 0)).toEqual({ offset: 0, length: 1 })
    expect(chunkSpan(CHUNK_SIZE, 0)).toEqual({ offset: 0, length: CHUNK_SIZE })
  })

  it.each([
    ['index past the end', CHUNK_SIZE, 1],
    ['any index of empty content', 0, 0],
    ['a negative index', 10, -1],
    ['a fractional index', 10, 0.5],
    ['a negative size', -1, 0],
    ['a NaN size', Number.NaN, 0]
  ])('rejects %s with InvalidInputError', (_name, size, index) => {
    expect(() => chunkSpan(size, index)).toThrowError(invalid)
  })

  it('rejects a size that is not a safe non-negative integer', () => {
    expect(() => chunkCount(-1)).toThrowError(invalid)
    expect(() => chunkCount(2 ** 53)).toThrowError(invalid)
  })
})
