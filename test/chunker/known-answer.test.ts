/**
 * Golden vectors for the chunker, computed independently of the DDS code by
 * `python3 test/chunker/fixtures/known-answers.py` (Python's hashlib SHA-256;
 * CID bytes 0x01 0x55 0x12 0x20 + digest; multibase base32 lower-case without
 * padding, prefix 'b'), which is the form `ipfs add --cid-version 1
 * --raw-leaves --chunker size-262144` prints for leaves. The literals below
 * were pasted from that script's output; nothing here is computed by the code
 * under test.
 */

import { describe, it, expect } from 'vitest'
import { ContentHasher, chunkContent } from '../../src/chunker/index.js'
import { cidToString, parseCid } from '../../src/cid.js'
import { collect, hex, slices } from './fixtures/content.js'

interface Vector {
  name: string
  content: () => Uint8Array
  sha256: string
  chunks: string[]
}

const VECTORS: Vector[] = [
  {
    name: 'empty',
    content: () => new Uint8Array(0),
    sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    chunks: []
  },
  {
    name: '262144 bytes of 0x00',
    content: () => new Uint8Array(262144),
    sha256: '8a39d2abd3999ab73c34db2476849cddf303ce389b35826850f9a700589b4a90',
    chunks: ['bafkreiekhhjkxu4ztk3tyng3er3ijhg56mb44oe3gwbgquhzu4afrg2ksa']
  },
  {
    name: '262145 bytes, byte i = i % 251',
    content: () => Uint8Array.from({ length: 262145 }, (_, i) => i % 251),
    sha256: '6a102a35ef13d267bf487c1520d82b4ff541787bc8c288ccf98aeebe7686016a',
    chunks: [
      'bafkreibruh455iawsviqslif5c7uurdcfdemh22mtnytyzvnzn75kpejxy',
      'bafkreiayvq7hgq7qc2eqyuiosp4tkjqrnhm6h5lfinsctaypv4etj5hy4q'
    ]
  },
  {
    name: '"DDS" repeated to 600000 bytes',
    content: () => new TextEncoder().encode('DDS'.repeat(200000)),
    sha256: 'a8026095fe95b4d38c62192c4f8c3256155dab613212cfe3c8afe45dde7e6815',
    chunks: [
      'bafkreiaxfrczlzi4kysskofhjcwxrtpecb3nxafocbdet62ghtyfqkquaa',
      'bafkreifdnhmmdopdeltgyhbcoiu3l6hunuphrg55djl4kbmct7sycaseum',
      'bafkreiaih6zgukft4efaukcdu3hgsxdaqsfimzrkswkmra5so2zzkq7gdu'
    ]
  },
  {
    name: '3 bytes "abc"',
    content: () => new TextEncoder().encode('abc'),
    sha256: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    chunks: ['bafkreif2pall7dybz7vecqka3zo24irdwabwdi4wc55jznaq75q7eaavvu']
  }
]

describe('chunker known answers', () => {
  it.each(VECTORS)('$name: chunk CIDs and content SHA-256 match the independent computation', async (vector) => {
    const content = vector.content()
    for (const input of [content, slices(content, () => 100_003)]) {
      const hasher = new ContentHasher()
      const cids: string[] = []
      for await (const chunk of chunkContent(input)) {
        hasher.update(chunk.bytes)
        cids.push(chunk.cid.toString())
      }
      expect(cids).toEqual(vector.chunks)
      expect(hex(hasher.digest())).toBe(vector.sha256)
    }
  })

  it('prints chunk CIDs in base58btc that parse back to the same base32 CIDs', async () => {
    const chunks = await collect(chunkContent(new Uint8Array(262144)))
    const printed = cidToString(chunks[0]!.cid)
    expect(printed.startsWith('z')).toBe(true)
    expect(parseCid(printed).toString()).toBe('bafkreiekhhjkxu4ztk3tyng3er3ijhg56mb44oe3gwbgquhzu4afrg2ksa')
  })
})
