/**
 * Golden vectors for manifests, computed independently of the DDS code by
 * `python3 test/chunker/fixtures/known-answers.py`: it writes the
 * ContentManifest protobuf by hand (field 1 entries `0a 24 <cid>`, then
 * `12 20 <sha256>`, then `18 <varint size>` unless the size is 0), hashes it
 * with hashlib and prints the raw sha2-256 CIDv1 in base32. The literals below
 * were pasted from that output; the chunk CIDs are the same script's.
 */

import { describe, it, expect } from 'vitest'
import { ContentHasher, chunkContent } from '../../src/chunker/index.js'
import { parseCid } from '../../src/cid.js'
import { createManifest, manifestBlock, verifyManifestBlock } from '../../src/manifest/index.js'
import { fromHex, toHex } from './fixtures.js'

interface Vector {
  name: string
  content: () => Uint8Array
  size: number
  sha256: string
  chunks: string[]
  manifest: string
  manifestHex?: string
}

const VECTORS: Vector[] = [
  {
    name: 'empty',
    content: () => new Uint8Array(0),
    size: 0,
    sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    chunks: [],
    manifest: 'bafkreidojk3qzjxcjflbg7skvt5a5t4v72w53nrtl4inpkcb5ogmrwvn7y',
    manifestHex: '1220e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
  },
  {
    name: '262144 bytes of 0x00',
    content: () => new Uint8Array(262144),
    size: 262144,
    sha256: '8a39d2abd3999ab73c34db2476849cddf303ce389b35826850f9a700589b4a90',
    chunks: ['bafkreiekhhjkxu4ztk3tyng3er3ijhg56mb44oe3gwbgquhzu4afrg2ksa'],
    manifest: 'bafkreihohpbkamhoaqcqahbcfs7yxhwy7zkbawgkdeb3wrnjflkmwhwib4',
    manifestHex: '0a24015512208a39d2abd3999ab73c34db2476849cddf303ce389b35826850f9a700589b4a9012208a39d2abd3999ab73c34db2476849cddf303ce389b35826850f9a700589b4a9018808010'
  },
  {
    name: '262145 bytes, byte i = i % 251',
    content: () => Uint8Array.from({ length: 262145 }, (_, i) => i % 251),
    size: 262145,
    sha256: '6a102a35ef13d267bf487c1520d82b4ff541787bc8c288ccf98aeebe7686016a',
    chunks: [
      'bafkreibruh455iawsviqslif5c7uurdcfdemh22mtnytyzvnzn75kpejxy',
      'bafkreiayvq7hgq7qc2eqyuiosp4tkjqrnhm6h5lfinsctaypv4etj5hy4q'
    ],
    manifest: 'bafkreigsezyasbmpk4wtcz5kiplj45yiezvyduhnqc7m6a6po2nor3wi7u',
    manifestHex: '0a240155122031a1f9dea0169551092d05e8bf4a446228c8c3eb4c9b713c66adcb7fd53c89be0a240155122018ac3e7343f016890c510e93f935261169d9e3f565436429830faf0934f4f8e412206a102a35ef13d267bf487c1520d82b4ff541787bc8c288ccf98aeebe7686016a18818010'
  },
  {
    name: '"DDS" repeated to 600000 bytes',
    content: () => new TextEncoder().encode('DDS'.repeat(200000)),
    size: 600000,
    sha256: 'a8026095fe95b4d38c62192c4f8c3256155dab613212cfe3c8afe45dde7e6815',
    chunks: [
      'bafkreiaxfrczlzi4kysskofhjcwxrtpecb3nxafocbdet62ghtyfqkquaa',
      'bafkreifdnhmmdopdeltgyhbcoiu3l6hunuphrg55djl4kbmct7sycaseum',
      'bafkreiaih6zgukft4efaukcdu3hgsxdaqsfimzrkswkmra5so2zzkq7gdu'
    ],
    manifest: 'bafkreiap7vrzwf2exglfglup4gqnbcokia3oyyl5qsojstpp6zihhcx2qy'
  },
  {
    name: '3 bytes "abc"',
    content: () => new TextEncoder().encode('abc'),
    size: 3,
    sha256: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    chunks: ['bafkreif2pall7dybz7vecqka3zo24irdwabwdi4wc55jznaq75q7eaavvu'],
    manifest: 'bafkreian5pvhrr3pbqxqqcj3xestirc6h4hcjaesk4e5sartg5ihhykjbm',
    manifestHex: '0a2401551220ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad1220ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad1803'
  }
]

describe('manifest known answers', () => {
  it.each(VECTORS)('$name: the manifest built from the literals has the independent CID and bytes', (vector) => {
    const manifest = createManifest({ chunkCids: vector.chunks.map((c) => parseCid(c)), sha256: fromHex(vector.sha256), size: vector.size })
    const { cid, bytes } = manifestBlock(manifest)
    expect(cid.toString()).toBe(vector.manifest)
    if (vector.manifestHex != null) {
      expect(toHex(bytes)).toBe(vector.manifestHex)
    }
    expect(verifyManifestBlock(parseCid(vector.manifest), bytes).size).toBe(vector.size)
  })

  it.each(VECTORS)('$name: chunking the content and hashing it gives the same manifest CID', async (vector) => {
    const hasher = new ContentHasher()
    const chunkCids = []
    for await (const chunk of chunkContent(vector.content())) {
      hasher.update(chunk.bytes)
      chunkCids.push(chunk.cid)
    }
    const manifest = createManifest({ chunkCids, sha256: hasher.digest(), size: hasher.size })
    expect(manifestBlock(manifest).cid.toString()).toBe(vector.manifest)
  })
})
