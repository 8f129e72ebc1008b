/**
 * Blocks in the node's own store that do not match their CIDs (bit rot, a
 * tampered data directory, a buggy custom StorageProvider). The store does not
 * verify; the design's rule is that no unverified byte is handed to the
 * caller, so retrieval must not yield them either: it must verify local blocks
 * like fetched ones (and fall back to peers, or fail with a typed error).
 */
import { describe, it, expect, afterEach } from 'vitest'
import { DdsError, parseCid } from '../../src/index.js'
import { drain, expectChunksCorrect, overwriteBlock } from './helpers.js'
import { Cluster } from '../utils/cluster.js'
import { chunkCid, chunkOf, concat, corrupt, equalBytes, pseudoRandomBytes } from '../utils/content.js'

describe('retrieval over a corrupted local store', () => {
  const cluster = new Cluster()
  afterEach(async () => { await cluster.stop() })

  it('never yields a corrupted local chunk', async () => {
    const data = pseudoRandomBytes(4 * 262144, 51)
    const bad = 1
    const node = await cluster.node({ storage: await cluster.dir() })
    const cid = await node.publish(data)
    await overwriteBlock(node, chunkCid(data, bad), corrupt(chunkOf(data, bad)))

    const out = await drain(node.retrieve(cid))

    // acceptable: a typed error (no valid copy exists anywhere) or the right
    // bytes; never the corrupted chunk
    expectChunksCorrect(out.chunks, data)
    if (out.error != null) {
      expect(out.error).toBeInstanceOf(DdsError)
      expect(['IntegrityError', 'NotFoundError']).toContain(out.error.name)
      expect(out.chunks.length).toBeLessThanOrEqual(bad)
    } else {
      expect(equalBytes(concat(out.chunks), data)).toBe(true)
    }
  })

  it('does not return other content when the local manifest block was replaced', async () => {
    const wanted = pseudoRandomBytes(2 * 262144, 52)
    const other = pseudoRandomBytes(3 * 262144, 53)
    const node = await cluster.node()
    const cid = await node.publish(wanted)
    const otherCid = await node.publish(other)
    // the block stored under `cid` is now a valid manifest, but of `other`
    await overwriteBlock(node, parseCid(cid), (await node.storage.get(parseCid(otherCid)))!)

    const out = await drain(node.retrieve(cid))

    expectChunksCorrect(out.chunks, wanted)
    if (out.error != null) {
      expect(out.error).toBeInstanceOf(DdsError)
      expect(['IntegrityError', 'NotFoundError']).toContain(out.error.name)
    } else {
      expect(equalBytes(concat(out.chunks), wanted)).toBe(true)
    }
  })

  it('with an honest peer holding the content, a corrupted local chunk is never yielded', async () => {
    const data = pseudoRandomBytes(3 * 262144, 54)
    const h = await cluster.node()
    const node = await cluster.node({ bootstrap: h.getMultiaddrs() })
    const cid = await h.publish(data)
    await h.awaitAnnouncements()
    expect(await node.publish(data)).toBe(cid)
    // not the last chunk: the whole-content check comes too late to catch it
    await overwriteBlock(node, chunkCid(data, 0), corrupt(chunkOf(data, 0)))

    const out = await drain(node.retrieve(cid))

    expectChunksCorrect(out.chunks, data)
    if (out.error != null) {
      expect(out.error).toBeInstanceOf(DdsError)
    } else {
      expect(equalBytes(concat(out.chunks), data)).toBe(true)
    }
  })
})
