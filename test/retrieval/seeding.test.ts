/**
 * Seeding: a publisher pushes its blocks to seed peers with StoreChunk, so
 * the content outlives the publisher. Seeds accept according to their
 * `network.storePolicy`.
 */
import { describe, it, expect, afterEach } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { RemoteError, blockMatchesCid, parseCid, type Dds } from '../../src/index.js'
import { drain, errorOf, recorder } from './helpers.js'
import { Cluster } from '../utils/cluster.js'
import { waitFor } from '../utils/wait.js'
import { chunkCid, chunkCount, concat, equalBytes, pseudoRandomBytes } from '../utils/content.js'

/** The manifest CID and every chunk CID of `data`. */
function allCids (data: Uint8Array, cid: string): Array<ReturnType<typeof parseCid>> {
  return [parseCid(cid), ...Array.from({ length: chunkCount(data) }, (_, i) => chunkCid(data, i))]
}

async function holdsAll (node: Dds, cids: Array<ReturnType<typeof parseCid>>): Promise<boolean[]> {
  return Promise.all(cids.map(async c => node.has(c)))
}

describe('publishing to seed peers', () => {
  const cluster = new Cluster()
  afterEach(async () => { await cluster.stop() })

  it("a seed with storePolicy 'any' takes every block, and serves the content after the publisher is gone", async () => {
    const data = pseudoRandomBytes(5 * 262144 + 333, 31)
    const s = await cluster.node({ storage: await cluster.dir(), network: { storePolicy: 'any' } })
    const p = await cluster.node({ bootstrap: s.getMultiaddrs(), seedPeers: s.getMultiaddrs() })
    const progress = recorder()
    const cid = await p.publish(data, { onProgress: progress.onProgress })

    const cids = allCids(data, cid)
    expect(await holdsAll(s, cids)).toEqual(cids.map(() => true))
    // what the seed stored is exactly the content's blocks
    for (const c of cids) {
      expect(blockMatchesCid(c, (await s.storage.get(c))!)).toBe(true)
    }
    expect(progress.of('dds:publish:seeded')).toEqual([{ peer: s.peerId, blocks: cids.length }])
    expect(progress.of('dds:publish:seed-failed')).toEqual([])

    // the seed announces what it took; let that finish, then the publisher leaves
    await s.awaitAnnouncements()
    await p.awaitAnnouncements()
    await p.stop()

    const t = await cluster.node({ bootstrap: s.getMultiaddrs() })
    const got = recorder()
    const out = await drain(t.retrieve(cid, { onProgress: got.onProgress }))
    expect(out.error).toBeUndefined()
    expect(equalBytes(concat(out.chunks), data)).toBe(true)
    expect(got.of('dds:retrieve:manifest')[0].from).toBe(s.peerId)
    expect(got.of('dds:retrieve:chunk').every(d => d.from === s.peerId)).toBe(true)
  })

  it("a seed with the default policy refuses: publish rejects with RemoteError, and the content stays stored locally", async () => {
    const data = pseudoRandomBytes(2 * 262144 + 5, 32)
    const s = await cluster.node()
    const p = await cluster.node({ storage: await cluster.dir(), bootstrap: s.getMultiaddrs(), seedPeers: s.getMultiaddrs() })
    const progress = recorder()
    const err = await errorOf(async () => p.publish(data, { onProgress: progress.onProgress }))

    expect(err?.name).toBe('RemoteError')
    expect(err).toBeInstanceOf(RemoteError)
    expect(err?.message).toMatch(/no seed peer took it/)
    expect(err?.message).toContain(s.peerId)
    const failed = progress.of('dds:publish:seed-failed')
    expect(failed).toHaveLength(1)
    expect(failed[0].peer).toBe(s.peerId)
    expect(failed[0].error.name).toBe('RejectedError')

    const stored = progress.of('dds:publish:stored')
    expect(stored).toHaveLength(1)
    const cids = allCids(data, stored[0].cid)
    expect(await holdsAll(p, cids)).toEqual(cids.map(() => true))
    expect(await holdsAll(s, cids)).toEqual(cids.map(() => false))
    // and it is readable locally
    expect(equalBytes(await p.retrieveBytes(stored[0].cid), data)).toBe(true)
  })

  it("a seed whose allow-list names the publisher takes the content", async () => {
    const key = await generateKeyPair('Ed25519')
    const publisherId = peerIdFromPrivateKey(key).toString()
    const data = pseudoRandomBytes(3 * 262144, 33)
    const s = await cluster.node({ network: { storePolicy: [publisherId] } })
    const p = await cluster.node({ privateKey: key, bootstrap: s.getMultiaddrs(), seedPeers: s.getMultiaddrs() })
    expect(p.peerId).toBe(publisherId)
    const cid = await p.publish(data)
    const cids = allCids(data, cid)
    expect(await holdsAll(s, cids)).toEqual(cids.map(() => true))
    expect(equalBytes(await s.retrieveBytes(cid), data)).toBe(true)
  })

  it("a seed whose allow-list names another peer refuses the publisher", async () => {
    const other = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    const data = pseudoRandomBytes(262144 + 1, 34)
    const s = await cluster.node({ network: { storePolicy: [other] } })
    const p = await cluster.node({ bootstrap: s.getMultiaddrs(), seedPeers: s.getMultiaddrs() })
    const progress = recorder()
    const err = await errorOf(async () => p.publish(data, { onProgress: progress.onProgress }))
    expect(err).toBeInstanceOf(RemoteError)
    expect(err?.message).toMatch(/no seed peer took it/)
    const cid = progress.of('dds:publish:stored')[0].cid as string
    const cids = allCids(data, cid)
    expect(await holdsAll(s, cids)).toEqual(cids.map(() => false))
    expect(await holdsAll(p, cids)).toEqual(cids.map(() => true))
  })

  it('publish succeeds when one of two seeds refuses, and the willing one holds everything', async () => {
    const data = pseudoRandomBytes(2 * 262144, 35)
    const willing = await cluster.node({ network: { storePolicy: 'any' } })
    const refusing = await cluster.node()
    const p = await cluster.node({
      bootstrap: willing.getMultiaddrs(),
      seedPeers: [...willing.getMultiaddrs(), ...refusing.getMultiaddrs()]
    })
    const progress = recorder()
    const cid = await p.publish(data, { onProgress: progress.onProgress })
    const cids = allCids(data, cid)
    expect(await holdsAll(willing, cids)).toEqual(cids.map(() => true))
    expect(await holdsAll(refusing, cids)).toEqual(cids.map(() => false))
    expect(progress.of('dds:publish:seeded').map(d => d.peer)).toEqual([willing.peerId])
    expect(progress.of('dds:publish:seed-failed').map(d => d.peer)).toEqual([refusing.peerId])
  })

  it('a pushed manifest goes through replica admission: the seed within its policy and quota pins it, the others keep nothing', async () => {
    const data = pseudoRandomBytes(3 * 262144, 36)
    const taking = await cluster.node({ network: { storePolicy: 'any' } })
    // both take the blocks (their store policy), but neither holds replicas of this size for others
    const refusing = await cluster.node({ network: { storePolicy: 'any' }, replication: { accept: 'none', storedGraceMs: 1 } })
    const small = await cluster.node({ network: { storePolicy: 'any' }, replication: { quotaBytes: 262144, storedGraceMs: 1 } })
    const p = await cluster.node({ bootstrap: taking.getMultiaddrs(), seedPeers: [taking, refusing, small].flatMap(n => n.getMultiaddrs()) })
    const cid = await p.publish(data)
    await waitFor(async () => (await taking.replicas()).some(pin => pin.cid === cid && pin.state === 'complete'), 'the willing seed to pin the content as a replica')
    expect((await taking.replicas()).map(pin => ({ cid: pin.cid, for: pin.for }))).toEqual([{ cid, for: p.peerId }])

    const cids = allCids(data, cid)
    for (const seed of [refusing, small]) {
      expect(await holdsAll(seed, cids)).toEqual(cids.map(() => true))
      expect(await seed.pins()).toEqual([])
      // unpinned, the pushed blocks go at the first gc after the grace period
      const swept = await seed.gc()
      expect(swept.blocksRemoved).toBe(cids.length)
      expect(await holdsAll(seed, cids)).toEqual(cids.map(() => false))
    }
  })
})
