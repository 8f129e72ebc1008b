import { describe, expect, it } from 'vitest'
import {
  CHUNK_SIZE, InvalidInputError, ManifestBuilder, MAX_CHUNKS_PER_MANIFEST, MAX_DESCRIPTION_BYTES, MAX_MANIFEST_BLOCK_SIZE,
  MAX_METADATA_ENTRIES, checkDescription, cidForBlock, decodeManifest, encodeManifest, manifestBlock, type Manifest
} from '../../src/index.js'
import { pb } from '../../src/pb/index.js'

const sha = new Uint8Array(32).fill(7)
const chunk = (i: number) => cidForBlock(new TextEncoder().encode(`chunk ${i}`))

function manifestOf (description: Partial<Manifest>): Manifest {
  return { chunkCids: [chunk(0), chunk(1)], sha256: sha, size: CHUNK_SIZE + 10, ...description }
}

describe('content description', () => {
  it('round-trips name, media type and metadata through the manifest encoding', () => {
    const manifest = manifestOf({ name: 'track.wav', mediaType: 'audio/wav', metadata: { title: 'Blue', artist: 'Ünïcödé ✓', album: '' } })
    const bytes = encodeManifest(manifest)
    const decoded = decodeManifest(bytes)
    expect(decoded.name).toBe('track.wav')
    expect(decoded.mediaType).toBe('audio/wav')
    expect(decoded.metadata).toEqual({ album: '', artist: 'Ünïcödé ✓', title: 'Blue' })
    expect(Object.keys(decoded.metadata!)).toEqual(['album', 'artist', 'title'])
    expect(encodeManifest(decoded)).toEqual(bytes)
  })

  it('gives the same CID whatever order the metadata keys were given in', () => {
    const a = manifestBlock(manifestOf({ metadata: { title: 't', artist: 'a' } }))
    const b = manifestBlock(manifestOf({ metadata: { artist: 'a', title: 't' } }))
    expect(a.cid.equals(b.cid)).toBe(true)
    // and the description is part of the CID
    const c = manifestBlock(manifestOf({ metadata: { artist: 'a', title: 'u' } }))
    expect(a.cid.equals(c.cid)).toBe(false)
  })

  it('leaves a manifest without description byte-identical to one from before descriptions existed', () => {
    const plain = manifestOf({})
    const old = pb.ContentManifest.encode({
      chunkCids: plain.chunkCids.map(c => c.bytes), originalContentSha256: sha, originalContentSizeBytes: plain.size
    }).finish()
    expect(encodeManifest(plain)).toEqual(new Uint8Array(old))
    expect(encodeManifest(manifestOf({ name: '', mediaType: '', metadata: {} }))).toEqual(new Uint8Array(old))
    const decoded = decodeManifest(old)
    expect(decoded.name).toBeUndefined()
    expect(decoded.metadata).toBeUndefined()
  })

  it('refuses a block whose metadata keys are out of order or repeated', () => {
    const base = {
      chunkCids: [chunk(0), chunk(1)].map(c => c.bytes), originalContentSha256: sha, originalContentSizeBytes: CHUNK_SIZE + 10
    }
    const unsorted = pb.ContentManifest.encode({ ...base, metadata: [{ key: 'title', value: 'x' }, { key: 'artist', value: 'y' }] }).finish()
    expect(() => decodeManifest(unsorted)).toThrow(/sorted order/)
    const repeated = pb.ContentManifest.encode({ ...base, metadata: [{ key: 'title', value: 'x' }, { key: 'title', value: 'y' }] }).finish()
    expect(() => decodeManifest(repeated)).toThrow(InvalidInputError)
  })

  it('refuses a block from a peer with an unsafe media type or a control character in a value', () => {
    const base = {
      chunkCids: [chunk(0), chunk(1)].map(c => c.bytes), originalContentSha256: sha, originalContentSizeBytes: CHUNK_SIZE + 10
    }
    const header = pb.ContentManifest.encode({ ...base, mediaType: 'text/html\r\nSet-Cookie: a=b' }).finish()
    expect(() => decodeManifest(header)).toThrow(/mediaType/)
    const control = pb.ContentManifest.encode({ ...base, metadata: [{ key: 'title', value: 'a\u0000b' }] }).finish()
    expect(() => decodeManifest(control)).toThrow(/control characters/)
  })

  it('refuses a manifest written with an explicit empty name (not canonical)', () => {
    const encoded = encodeManifest(manifestOf({}))
    // field 6 (name), wire type 2, length 0
    const raw = new Uint8Array([...encoded, (6 << 3) | 2, 0])
    expect(() => decodeManifest(raw)).toThrow(/canonical/)
  })

  it.each([
    ['a name with /', { name: 'a/b.wav' }, /without '\/'/],
    ['a name with \\', { name: 'a\\b' }, /without/],
    ['the name ..', { name: '..' }, /file name/],
    ['a 256-byte name', { name: 'x'.repeat(256) }, /limit is 255/],
    ['a name with a tab', { name: 'tab\there' }, /control characters/],
    ['a lone surrogate', { name: '\ud800' }, /lone surrogate/],
    ['a name that is a number', { name: 42 as unknown as string }, /must be a string/],
    ['a media type without subtype', { mediaType: 'audio' }, /mediaType/],
    ['a parameter without value', { mediaType: 'audio/wav; x' }, /mediaType/],
    ['a non-ASCII quoted parameter', { mediaType: 'text/plain; title="日本"' }, /mediaType/],
    ['a 136-character media type', { mediaType: `audio/${'w'.repeat(130)}` }, /mediaType/],
    ['a key with a space', { metadata: { 'bad key': 'v' } }, /metadata key/],
    ['an empty key', { metadata: { '': 'v' } }, /metadata key/],
    ['a 1025-byte value', { metadata: { k: 'v'.repeat(1025) } }, /limit is 1024/],
    ['a value that is a number', { metadata: { k: 5 as unknown as string } }, /must be a string/],
    ['metadata that is an array', { metadata: [] as unknown as Record<string, string> }, /metadata must be an object/],
    ['65 entries', { metadata: Object.fromEntries(Array.from({ length: MAX_METADATA_ENTRIES + 1 }, (_, i) => [`k${i}`, 'v'])) }, /entries; the limit is 64/],
    ['a description over 16 KiB', { metadata: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, 'v'.repeat(1000)])) }, new RegExp(`limit is ${MAX_DESCRIPTION_BYTES}`)]
  ])('refuses %s with InvalidInputError', (_label, description, message) => {
    expect(() => checkDescription(description)).toThrow(InvalidInputError)
    expect(() => checkDescription(description)).toThrow(message)
    expect(() => encodeManifest(manifestOf(description))).toThrow(InvalidInputError)
  })

  it('accepts media types with parameters and keys with . _ : -', () => {
    const checked = checkDescription({ mediaType: 'text/plain; charset="utf-8"', metadata: Object.fromEntries([['dc:title', 'x'], ['a.b_c-d', 'y'], ['__proto__', 'z']]) })
    expect(checked.mediaType).toBe('text/plain; charset="utf-8"')
    expect(Object.keys(checked.metadata)).toEqual(['__proto__', 'a.b_c-d', 'dc:title'])
    expect(Object.getPrototypeOf(checked.metadata)).toBe(Object.prototype)
  })

  it('makes a tree rather than overflow the block when a long description shares it with a full chunk list', () => {
    const metadata = Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`k${i}`, 'v'.repeat(1000)]))
    const builder = new ManifestBuilder(MAX_CHUNKS_PER_MANIFEST, { name: 'big.bin', metadata })
    const nodes = []
    for (let i = 0; i < MAX_CHUNKS_PER_MANIFEST; i++) {
      const node = builder.add(chunk(i))
      if (node != null) nodes.push(node)
    }
    const { node, root, manifest } = builder.finish(sha, MAX_CHUNKS_PER_MANIFEST * CHUNK_SIZE)
    expect(nodes).toHaveLength(0)
    expect(node).toBeDefined()
    expect(manifest.children).toHaveLength(1)
    expect(root.bytes.byteLength).toBeLessThan(MAX_MANIFEST_BLOCK_SIZE)
    const decoded = decodeManifest(root.bytes)
    expect(decoded.name).toBe('big.bin')
    expect(decoded.metadata).toEqual(metadata)

    // the same chunks without a description fit one block
    const plain = new ManifestBuilder(MAX_CHUNKS_PER_MANIFEST)
    for (let i = 0; i < MAX_CHUNKS_PER_MANIFEST; i++) plain.add(chunk(i))
    expect(plain.finish(sha, MAX_CHUNKS_PER_MANIFEST * CHUNK_SIZE).manifest.children).toBeUndefined()
  })
})
