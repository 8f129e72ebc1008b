/** Edge cases of pins and replicas: quota under concurrency, bad pins, cancelled fetches, seeded content. */
import { describe, it, expect, afterEach } from 'vitest'
import { CHUNK_SIZE, parseCid, cidForBlock } from '../../src/index.js'
import { Cluster } from '../utils/cluster.js'
import { pseudoRandomBytes } from '../utils/content.js'
import { waitFor } from '../utils/wait.js'

describe('pin and replica edge cases', () => {
  const cluster = new Cluster()
  afterEach(async () => { await cluster.stop() })

  it('reserves quota at once, so concurrent instructions cannot overshoot it', async () => {
    const a = await cluster.node()
    const b = await cluster.node({ bootstrap: a.getMultiaddrs(), replication: { factor: 1, quotaBytes: 10 * 1024 * 1024, perPeerShare: 1 } })
    const cids = await Promise.all([1, 2, 3].map(async i => a.publish(pseudoRandomBytes(6 * 1024 * 1024, 90 + i))))
    const results = await Promise.allSettled(cids.map(async cid => a.replication.instructReplicate(b.libp2p.peerId, parseCid(cid), [a.libp2p.peerId])))
    expect(results.filter(r => r.status === 'fulfilled')).toHaveLength(1)
    await waitFor(async () => (await b.replicas()).some(p => p.state === 'complete'), 'the accepted replica')
    const held = (await b.replicas()).reduce((sum, p) => sum + p.size, 0)
    expect(held).toBeLessThanOrEqual(10 * 1024 * 1024)
  })

  it('refuses to pin a block that is not a manifest, and leaves no pin behind', async () => {
    const a = await cluster.node()
    const b = await cluster.node({ bootstrap: a.getMultiaddrs() })
    const content = pseudoRandomBytes(2 * CHUNK_SIZE, 95)
    await a.publish(content)
    const chunk = cidForBlock(content.subarray(0, CHUNK_SIZE))
    await expect(b.pin(chunk)).rejects.toThrowError(expect.objectContaining({ name: 'InvalidInputError' }))
    expect(await b.pins()).toEqual([])
    await expect(b.gc()).resolves.toMatchObject({ blocksRemoved: 0 })
  })

  it('unpin during a pin fetch cancels it and no pin comes back', async () => {
    const a = await cluster.node()
    const b = await cluster.node({ bootstrap: a.getMultiaddrs(), retrieval: { window: 1 } })
    const cid = await a.publish(pseudoRandomBytes(64 * CHUNK_SIZE, 96))
    const pinning = b.pin(cid)
    await waitFor(async () => (await b.pins()).some(p => p.cid === cid), 'the fetching pin')
    expect(await b.unpin(cid)).toBe(true)
    await expect(pinning).rejects.toThrowError(expect.objectContaining({ name: 'AbortError' }))
    expect(await b.pins()).toEqual([])
  })

  it('a seed peer pins what it was pushed as a replica, so gc keeps it', async () => {
    const seed = await cluster.node({ network: { storePolicy: 'any' } })
    const publisher = await cluster.node({ bootstrap: seed.getMultiaddrs(), seedPeers: seed.getMultiaddrs() })
    const cid = await publisher.publish(pseudoRandomBytes(3 * CHUNK_SIZE, 97))
    await waitFor(async () => (await seed.replicas()).some(p => p.cid === cid && p.state === 'complete'), 'the seeded replica')
    expect((await seed.replicas())[0]).toMatchObject({ kind: 'replica', for: publisher.peerId })
    await seed.gc()
    expect((await seed.storage.stats()).blocks).toBe(4)
  })
})
