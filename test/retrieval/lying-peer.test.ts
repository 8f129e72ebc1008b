/**
 * A peer that serves wrong bytes (a corrupted disk or a malicious node) must
 * be routed around and penalised, and no byte it sent may reach the caller.
 *
 * The liar gets the content through a real publish of the same bytes, then
 * one of its blocks is overwritten in its store (stores do not verify).
 */
import { describe, it, expect, afterEach } from 'vitest'
import { peerIdFromString } from '@libp2p/peer-id'
import { DdsError, blockMatchesCid, cidToString, parseCid, type Dds } from '../../src/index.js'
import { drain, expectChunksCorrect, overwriteBlock, recorder } from './helpers.js'
import { Cluster } from '../utils/cluster.js'
import { chunkCid, chunkCount, chunkOf, concat, corrupt, equalBytes, pseudoRandomBytes } from '../utils/content.js'

/** Every block `node` holds matches its CID (nothing unverified was stored). */
async function expectStoreClean (node: Dds): Promise<void> {
  for await (const cid of node.storage.list()) {
    const bytes = await node.storage.get(cid)
    expect(bytes != null && blockMatchesCid(cid, bytes), `${cidToString(cid)} in ${node.peerId}'s store does not match its CID`).toBe(true)
  }
}

describe('retrieval from a peer that lies', () => {
  const cluster = new Cluster()
  afterEach(async () => { await cluster.stop() })

  it('routes around a liar that corrupted one chunk, bans it, and yields only correct bytes', async () => {
    // 7 chunks, the last one short
    const data = pseudoRandomBytes(6 * 262144 + 1000, 11)
    const n = chunkCount(data)
    const bad = 3

    const h = await cluster.node()
    const l = await cluster.node({ storage: await cluster.dir(), bootstrap: h.getMultiaddrs() })
    const cid = await h.publish(data)
    expect(await l.publish(data)).toBe(cid)
    await Promise.all([h.awaitAnnouncements(), l.awaitAnnouncements()])

    // L serves wrong bytes (same length) for chunk 3
    await overwriteBlock(l, chunkCid(data, bad), corrupt(chunkOf(data, bad)))
    // Only L can serve the manifest, so L is the retrieval's first provider and
    // is certainly asked for chunk 3; H holds (and announced) every chunk.
    await h.storage.delete(parseCid(cid))

    const r = await cluster.node({ bootstrap: [...l.getMultiaddrs(), ...h.getMultiaddrs()] })
    const progress = recorder()
    const out = await drain(r.retrieve(cid, { onProgress: progress.onProgress }))

    expect(out.error).toBeUndefined()
    expect(out.chunks).toHaveLength(n)
    expectChunksCorrect(out.chunks, data)
    expect(equalBytes(concat(out.chunks), data)).toBe(true)

    // L was asked and failed with an IntegrityError for exactly that chunk
    const manifestEvents = progress.of('dds:retrieve:manifest')
    expect(manifestEvents).toHaveLength(1)
    expect(manifestEvents[0].from).toBe(l.peerId)
    const failed = progress.of('dds:retrieve:provider-failed').filter(d => d.peer === l.peerId)
    expect(failed.length).toBeGreaterThanOrEqual(1)
    expect(failed.every(d => d.error.name === 'IntegrityError')).toBe(true)
    expect(failed.map(d => cidToString(d.cid))).toContain(cidToString(chunkCid(data, bad)))

    // chunk 3 came from H, and no chunk was counted as coming from L after it lied
    const chunkEvents = progress.of('dds:retrieve:chunk')
    expect(chunkEvents.map(d => d.index)).toEqual([...Array(n).keys()])
    expect(chunkEvents[bad].from).toBe(h.peerId)

    // L is penalised (one wrong block is enough for a ban); H is in good standing
    const standing = r.network.scores.standing(l.peerId)
    expect(standing.banned).toBe(true)
    expect(standing.lastReason).toContain(cidToString(chunkCid(data, bad)))
    expect(r.network.isBanned(peerIdFromString(l.peerId))).toBe(true)
    expect(r.network.isBanned(peerIdFromString(h.peerId))).toBe(false)
    expect(r.network.scores.standing(h.peerId).score).toBe(0)

    await expectStoreClean(r)
  })

  it('routes around a liar that corrupted the first and the last (short) chunk', async () => {
    const data = pseudoRandomBytes(4 * 262144 + 77, 12)
    const n = chunkCount(data)
    const h = await cluster.node()
    const l = await cluster.node({ bootstrap: h.getMultiaddrs() })
    const cid = await h.publish(data)
    expect(await l.publish(data)).toBe(cid)
    await Promise.all([h.awaitAnnouncements(), l.awaitAnnouncements()])
    await overwriteBlock(l, chunkCid(data, 0), corrupt(chunkOf(data, 0)))
    // the last chunk: wrong length as well as wrong bytes
    await overwriteBlock(l, chunkCid(data, n - 1), corrupt(chunkOf(data, n - 1)).subarray(1))
    await h.storage.delete(parseCid(cid))

    // a ban closes the liar's connections: a node that knew only the liar
    // would lose its way to the DHT with it, so this one knows both
    const r = await cluster.node({ bootstrap: [...l.getMultiaddrs(), ...h.getMultiaddrs()] })
    const progress = recorder()
    const out = await drain(r.retrieve(cid, { onProgress: progress.onProgress }))

    expect(out.error).toBeUndefined()
    expectChunksCorrect(out.chunks, data)
    expect(equalBytes(concat(out.chunks), data)).toBe(true)
    const failedCids = progress.of('dds:retrieve:provider-failed')
      .filter(d => d.peer === l.peerId && d.error.name === 'IntegrityError')
      .map(d => cidToString(d.cid))
    expect(failedCids).toContain(cidToString(chunkCid(data, 0)))
    expect(r.network.isBanned(peerIdFromString(l.peerId))).toBe(true)
    await expectStoreClean(r)
  })

  it('when the only holder lies about a chunk, rejects with IntegrityError after yielding only correct chunks', async () => {
    const data = pseudoRandomBytes(5 * 262144, 13)
    const bad = 2
    const l = await cluster.node({ storage: await cluster.dir() })
    const r = await cluster.node({ bootstrap: l.getMultiaddrs() })
    const cid = await l.publish(data)
    await l.awaitAnnouncements()
    await overwriteBlock(l, chunkCid(data, bad), corrupt(chunkOf(data, bad)))

    const out = await drain(r.retrieve(cid))

    expect(out.error?.name).toBe('IntegrityError')
    expect(out.error).toBeInstanceOf(DdsError)
    expect(out.error?.message).toContain(cidToString(chunkCid(data, bad)))
    // chunks 0 and 1 were yielded, and they are right; nothing of chunk 2 was
    expect(out.chunks).toHaveLength(bad)
    expectChunksCorrect(out.chunks, data)
    expect(r.network.scores.standing(l.peerId).banned).toBe(true)
    await expectStoreClean(r)
  })

  it('when the only holder lies about the last chunk, rejects with IntegrityError and never yields it', async () => {
    const data = pseudoRandomBytes(3 * 262144 + 4096, 14)
    const n = chunkCount(data)
    const l = await cluster.node()
    const r = await cluster.node({ bootstrap: l.getMultiaddrs() })
    const cid = await l.publish(data)
    await l.awaitAnnouncements()
    // a shorter block: whoever trusted sizes or a short read would be fooled
    await overwriteBlock(l, chunkCid(data, n - 1), chunkOf(data, n - 1).subarray(0, 100))

    const out = await drain(r.retrieve(cid))

    expect(out.error?.name).toBe('IntegrityError')
    expect(out.chunks).toHaveLength(n - 1)
    expectChunksCorrect(out.chunks, data)
  })

  it('when the only holder lies about the manifest, rejects with IntegrityError and yields nothing', async () => {
    const data = pseudoRandomBytes(2 * 262144, 15)
    const l = await cluster.node()
    const r = await cluster.node({ bootstrap: l.getMultiaddrs() })
    const cid = await l.publish(data)
    await l.awaitAnnouncements()
    const manifest = await l.storage.get(parseCid(cid))
    expect(manifest).toBeDefined()
    await overwriteBlock(l, parseCid(cid), corrupt(manifest!))

    const progress = recorder()
    const out = await drain(r.retrieve(cid, { onProgress: progress.onProgress }))

    expect(out.error?.name).toBe('IntegrityError')
    expect(out.error).toBeInstanceOf(DdsError)
    expect(out.chunks).toHaveLength(0)
    expect(progress.of('dds:retrieve:manifest')).toHaveLength(0)
    expect(r.network.scores.standing(l.peerId).banned).toBe(true)
  })

  it('a banned liar is not asked again by the next retrieval', async () => {
    const data = pseudoRandomBytes(3 * 262144, 16)
    const h = await cluster.node()
    const l = await cluster.node({ bootstrap: h.getMultiaddrs() })
    const cid = await h.publish(data)
    expect(await l.publish(data)).toBe(cid)
    await Promise.all([h.awaitAnnouncements(), l.awaitAnnouncements()])
    const manifest = await l.storage.get(parseCid(cid))
    await overwriteBlock(l, parseCid(cid), corrupt(manifest!))

    const r = await cluster.node({ bootstrap: [...l.getMultiaddrs(), ...h.getMultiaddrs()] })
    // first retrieval: the liar may or may not be asked, depending on DHT order
    const first = recorder()
    const out1 = await drain(r.retrieve(cid, { onProgress: first.onProgress }))
    expect(out1.error).toBeUndefined()
    expect(equalBytes(concat(out1.chunks), data)).toBe(true)
    const lied = first.of('dds:retrieve:provider-failed').some(d => d.peer === l.peerId)
    expect(r.network.isBanned(peerIdFromString(l.peerId))).toBe(lied)

    // make sure the liar has been caught, then retrieve again: it must not be asked
    if (!lied) {
      await expect(r.network.retrieveBlock(peerIdFromString(l.peerId), parseCid(cid))).rejects.toMatchObject({ name: 'IntegrityError' })
      expect(r.network.isBanned(peerIdFromString(l.peerId))).toBe(true)
    }
    const second = recorder()
    const out2 = await drain(r.retrieve(cid, { onProgress: second.onProgress }))
    expect(out2.error).toBeUndefined()
    expect(equalBytes(concat(out2.chunks), data)).toBe(true)
    expect(second.of('dds:retrieve:provider-failed').filter(d => d.peer === l.peerId)).toEqual([])
    expect(second.of('dds:retrieve:manifest')[0].from).toBe(h.peerId)
  })
})
