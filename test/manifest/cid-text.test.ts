import { describe, it, expect, vi, afterEach } from 'vitest'
import { CID } from 'multiformats/cid'
import { cidForBlock, CHUNK_SIZE } from '../../src/cid.js'
import { createManifest, decodeManifest, encodeManifest } from '../../src/manifest/index.js'
import { memoryStorage } from '../../src/storage/memory/index.js'

// A CID caches every text made from it (as a rope of ~50 pieces for
// base58), so formatting the CIDs a manifest lists would hold ~1.5 KB per
// chunk for as long as the manifest lives: a retrieval's memory would grow
// with the content. Nothing on the path of a retrieval may format them.
describe('CIDs on the retrieval path are never formatted as text', () => {
  afterEach(() => { vi.restoreAllMocks() })

  it('decoding a manifest, and storing and looking up its chunks in a memory store', async () => {
    const blocks = Array.from({ length: 200 }, (_, i) => new Uint8Array([i, i >> 8, 7]))
    const cids = blocks.map(b => cidForBlock(b))
    const bytes = encodeManifest(createManifest({ chunkCids: cids, sha256: new Uint8Array(32), size: 200 * CHUNK_SIZE }))
    const store = memoryStorage()
    await store.putMany(blocks.slice(0, 100).map((b, i) => ({ cid: cids[i]!, bytes: b })))

    const toString = vi.spyOn(CID.prototype, 'toString')
    const manifest = decodeManifest(bytes)
    for (const [i, cid] of manifest.chunkCids.entries()) {
      expect(await store.has(cid)).toBe(i < 100)
      expect((await store.get(cid))?.byteLength).toBe(i < 100 ? 3 : undefined)
    }
    await store.put(manifest.chunkCids[150]!, blocks[150]!)
    await store.delete(manifest.chunkCids[0]!)
    expect(toString).not.toHaveBeenCalled()
    await store.close()
  })
})
