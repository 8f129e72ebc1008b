/**
 * Manifest trees: content whose chunk list does not fit one manifest block.
 * `manifestChunksPerBlock` makes small content use a tree, so the tests need
 * no gigabytes.
 */
import { describe, it, expect, afterEach } from 'vitest'
import { recorder, drain, expectChunksCorrect } from './helpers.js'
import {
  ManifestBuilder, decodeManifest, decodeManifestNode, parseCid, cidForBlock, chunkCidsOf
} from '../../src/index.js'
import { Cluster } from '../utils/cluster.js'
import { CHUNK_SIZE, concat, equalBytes, pseudoRandomBytes } from '../utils/content.js'

describe('manifest trees', () => {
  const cluster = new Cluster()
  afterEach(async () => { await cluster.stop() })

  it('builds a single-block manifest up to chunksPerBlock chunks and a tree past it', () => {
    const cids = Array.from({ length: 7 }, (_, i) => cidForBlock(Uint8Array.of(i)))
    const flat = new ManifestBuilder(7)
    cids.forEach(cid => expect(flat.add(cid)).toBeUndefined())
    const one = flat.finish(new Uint8Array(32), 7 * CHUNK_SIZE)
    expect(one.manifest.children).toBeUndefined()
    expect(one.node).toBeUndefined()

    const tree = new ManifestBuilder(3)
    const nodes = cids.map(cid => tree.add(cid)).filter(n => n != null)
    expect(nodes).toHaveLength(2) // nodes of 3 and 3 complete as the 4th and 7th CIDs arrive
    const done = tree.finish(new Uint8Array(32), 7 * CHUNK_SIZE)
    expect(done.node).toBeDefined() // the last node holds the 7th chunk alone
    const root = decodeManifest(done.root.bytes)
    expect(root.children?.map(String)).toEqual([...nodes, done.node].map(n => n!.cid.toString()))
    expect(root.chunksPerChild).toBe(3)
    expect(root.chunkCids).toEqual([])
    expect(decodeManifestNode(done.node!.bytes, 1).map(String)).toEqual([cids[6]!.toString()])
    expect(() => decodeManifestNode(done.node!.bytes, 2)).toThrowError(expect.objectContaining({ name: 'InvalidInputError' }))
  })

  it('lists every chunk CID of a tree in order', async () => {
    const cids = Array.from({ length: 8 }, (_, i) => cidForBlock(Uint8Array.of(i)))
    const builder = new ManifestBuilder(3)
    const blocks = new Map<string, Uint8Array>()
    for (const cid of cids) {
      const node = builder.add(cid)
      if (node != null) blocks.set(node.cid.toString(), node.bytes)
    }
    const done = builder.finish(new Uint8Array(32), 8 * CHUNK_SIZE)
    blocks.set(done.node!.cid.toString(), done.node!.bytes)
    const listed: string[] = []
    for await (const cid of chunkCidsOf(done.manifest, async (nodeCid, _i, expected) => decodeManifestNode(blocks.get(nodeCid.toString())!, expected))) {
      listed.push(cid.toString())
    }
    expect(listed).toEqual(cids.map(String))
  })

  it('publishes and retrieves a tree manifest end to end, ranges included, from LevelDB', async () => {
    const a = await cluster.node({ storage: await cluster.dir(), manifestChunksPerBlock: 3 })
    const b = await cluster.node({ bootstrap: a.getMultiaddrs(), retrieval: { window: 4 } })
    const data = pseudoRandomBytes(10 * CHUNK_SIZE + 123, 41)
    const cid = await a.publish(data)
    const root = decodeManifest((await a.storage.get(parseCid(cid)))!)
    expect(root.children).toHaveLength(4)

    const whole = await drain(b.retrieve(cid))
    expect(whole.error).toBeUndefined()
    expectChunksCorrect(whole.chunks, data)
    expect(equalBytes(concat(whole.chunks), data)).toBe(true)

    // a range across the boundary between the first and second node
    const progress = recorder()
    const parts: Uint8Array[] = []
    for await (const part of b.retrieve(cid, { offset: 3 * CHUNK_SIZE - 5, length: 10, onProgress: progress.onProgress })) {
      parts.push(part)
    }
    expect(equalBytes(concat(parts), data.subarray(3 * CHUNK_SIZE - 5, 3 * CHUNK_SIZE + 5))).toBe(true)
    expect(progress.of('dds:retrieve:chunk').map((d: { index: number }) => d.index)).toEqual([2, 3])
  })

  it('retrieves content many times larger than the reorder window', async () => {
    const a = await cluster.node({ manifestChunksPerBlock: 16 })
    const b = await cluster.node({ bootstrap: a.getMultiaddrs(), retrieval: { window: 2 } })
    const data = pseudoRandomBytes(60 * CHUNK_SIZE + 1, 43)
    const cid = await a.publish(data)
    const out = await drain(b.retrieve(cid))
    expect(out.error).toBeUndefined()
    expect(out.chunks).toHaveLength(61)
    expect(equalBytes(concat(out.chunks), data)).toBe(true)
  })

  it('refuses a tree node that lists the wrong chunks (IntegrityError, nothing wrong yielded)', async () => {
    const a = await cluster.node({ storage: await cluster.dir(), manifestChunksPerBlock: 2 })
    const b = await cluster.node({ bootstrap: a.getMultiaddrs() })
    const data = pseudoRandomBytes(5 * CHUNK_SIZE, 44)
    const cid = await a.publish(data)
    const root = decodeManifest((await a.storage.get(parseCid(cid)))!)
    // replace node 1's bytes with node 0's: the CID no longer matches
    const node0 = (await a.storage.get(root.children![0]!))!
    await a.storage.delete(root.children![1]!)
    await a.storage.put(root.children![1]!, node0)
    const out = await drain(b.retrieve(cid))
    expect(out.error?.name).toMatch(/IntegrityError|NotFoundError/)
    expectChunksCorrect(out.chunks, data)
    expect(out.chunks.length).toBeLessThanOrEqual(2)
  })
})
