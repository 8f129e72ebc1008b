/** Pins and garbage collection: dedup, unpin + gc, pin of remote content. */
import { describe, it, expect, afterEach } from 'vitest'
import { CHUNK_SIZE, parseCid } from '../../src/index.js'
import { Cluster } from '../utils/cluster.js'
import { waitFor } from '../utils/wait.js'
import { pseudoRandomBytes, sha256Hex } from '../utils/content.js'

describe('pins and gc', () => {
  const cluster = new Cluster()
  afterEach(async () => { await cluster.stop() })

  it('stores shared chunks once, keeps them while any pin needs them, and empties the store when none does', async () => {
    const dir = await cluster.dir('dds-gc-')
    const a = await cluster.node({ storage: dir })
    const shared = pseudoRandomBytes(4 * CHUNK_SIZE, 71)
    const one = new Uint8Array([...shared, ...pseudoRandomBytes(CHUNK_SIZE, 72)])
    const two = new Uint8Array([...shared, ...pseudoRandomBytes(CHUNK_SIZE + 5, 73)])
    const cid1 = await a.publish(one)
    const cid2 = await a.publish(two)
    // 4 shared chunks + 1 unique to one + 2 unique to two + 2 manifests: dedup is real
    expect((await a.storage.stats()).blocks).toBe(9)
    expect((await a.pins()).map(p => p.cid).sort()).toEqual([cid1, cid2].sort())
    expect((await a.pins()).find(p => p.cid === cid1)?.size).toBe(one.byteLength)

    expect(await a.unpin(cid1)).toBe(true)
    const first = await a.gc()
    expect(first.blocksRemoved).toBe(2) // cid1's manifest and its unique chunk
    expect(sha256Hex(await a.retrieveBytes(cid2))).toBe(sha256Hex(two))
    expect(await a.has(cid1)).toBe(false)

    expect(await a.unpin(cid2)).toBe(true)
    await a.gc()
    expect(await a.storage.stats()).toEqual({ blocks: 0, bytes: 0 })
    expect(await a.pins()).toEqual([])
    expect(await a.unpin(cid2)).toBe(false)
  })

  it('pin() fetches remote content into the store so it survives its publisher and gc', async () => {
    const a = await cluster.node()
    const b = await cluster.node({ bootstrap: a.getMultiaddrs() })
    const content = pseudoRandomBytes(3 * CHUNK_SIZE + 1, 74)
    const cid = await a.publish(content)
    const pin = await b.pin(cid)
    expect(pin).toMatchObject({ cid, kind: 'local', state: 'complete', size: content.byteLength })
    await b.gc()
    await cluster.stopNode(a)
    expect(sha256Hex(await b.retrieveBytes(cid))).toBe(sha256Hex(content))
    expect((await b.storage.stats()).blocks).toBe(5) // 4 chunks + manifest
  })

  it('gc spares nothing unpinned that is not recent, and never touches pinned blocks', async () => {
    const a = await cluster.node()
    const b = await cluster.node({ bootstrap: a.getMultiaddrs() })
    const cid = await a.publish(pseudoRandomBytes(2 * CHUNK_SIZE, 75))
    // retrieve does not store, so b has nothing to collect; a keeps everything pinned
    await b.retrieveBytes(cid)
    expect((await b.gc()).blocksRemoved).toBe(0)
    expect((await a.gc()).blocksRemoved).toBe(0)
    expect((await a.storage.stats()).blocks).toBe(3)
  })

  it('lists a replica held for another peer, and drops it so gc frees its blocks', async () => {
    const a = await cluster.node()
    const b = await cluster.node({ bootstrap: a.getMultiaddrs() })
    const content = pseudoRandomBytes(2 * CHUNK_SIZE + 7, 76)
    const cid = await a.publish(content)
    await a.replication.instructReplicate(b.libp2p.peerId, parseCid(cid), [a.libp2p.peerId])
    await waitFor(async () => (await b.replicas()).some(p => p.cid === cid && p.state === 'complete'), 'the replica')
    const [replica] = await b.replicas()
    expect(replica).toMatchObject({ cid, kind: 'replica', for: a.peerId, size: content.byteLength })
    expect((await b.storage.stats()).blocks).toBe(4)
    expect(await b.dropReplica(cid)).toBe(true)
    expect(await b.dropReplica(cid)).toBe(false)
    expect(await b.replicas()).toEqual([])
    await b.gc()
    expect((await b.storage.stats()).blocks).toBe(0)
    // the publisher's own pin is not a replica and cannot be dropped as one
    expect(await a.dropReplica(cid)).toBe(false)
  })
})
