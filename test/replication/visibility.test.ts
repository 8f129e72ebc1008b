/**
 * What a node tells of what it holds: pins with their content names and
 * replication checks, `repoStat()` with the quota's use per peer, and pin
 * progress events, on real nodes.
 */
import { describe, it, expect, afterEach } from 'vitest'
import { CHUNK_SIZE } from '../../src/index.js'
import type { PinProgress } from '../../src/index.js'
import { Cluster } from '../utils/cluster.js'
import { waitForValue } from '../utils/wait.js'
import { pseudoRandomBytes } from '../utils/content.js'

describe('pins, replicas and the store in the open', () => {
  const cluster = new Cluster()
  afterEach(async () => { await cluster.stop() })

  it('pin() reports dds:pin:progress from 0 bytes to the whole content', async () => {
    const a = await cluster.node()
    const b = await cluster.node({ bootstrap: a.getMultiaddrs() })
    const content = pseudoRandomBytes(5 * CHUNK_SIZE + 7, 91)
    const cid = await a.publish(content, { name: 'five.bin' })
    const events: PinProgress[] = []
    await b.pin(cid, { onProgress: (evt) => { expect(evt.type).toBe('dds:pin:progress'); events.push(evt.detail) } })
    expect(events[0]).toEqual({ cid, size: content.byteLength, chunks: 6, bytes: 0, chunksDone: 0 })
    expect(events.at(-1)).toEqual({ cid, size: content.byteLength, chunks: 6, bytes: content.byteLength, chunksDone: 6 })
    // bytes only grow
    expect(events.every((e, i) => i === 0 || e.bytes >= events[i - 1]!.bytes)).toBe(true)
    // a second pin of content already held reports it whole at once
    const again: PinProgress[] = []
    await b.pin(cid, { onProgress: (evt) => { again.push(evt.detail) } })
    expect(again).toEqual([{ cid, size: content.byteLength, chunks: 6, bytes: content.byteLength, chunksDone: 6 }])
    expect(await b.pins()).toEqual([expect.objectContaining({ cid, kind: 'local', state: 'complete', name: 'five.bin' })])
  })

  it('repoStat() counts the store, the pins by kind, and each peer\'s replicas against the quota', async () => {
    const a = await cluster.node({ replication: { factor: 2, probeTimeoutMs: 1_000 } })
    const b = await cluster.node({ bootstrap: a.getMultiaddrs(), replication: { quotaBytes: 4 * 1024 * 1024, perPeerShare: 0.5 } })
    const content = pseudoRandomBytes(3 * CHUNK_SIZE, 92)
    const cid = await a.publish(content, { name: 'three.bin' })
    const replica = await waitForValue(async () => (await b.replicas()).find(p => p.state === 'complete'), 'a complete replica on b')
    expect(replica).toMatchObject({ cid, kind: 'replica', name: 'three.bin', for: a.peerId, size: content.byteLength })
    const stat = await b.repoStat()
    expect(stat).toEqual({
      store: { blocks: 4, bytes: (await b.storage.stats()).bytes },
      pinned: { count: 0, bytes: 0, fetching: 0 },
      replicas: { count: 1, bytes: content.byteLength, fetching: 0 },
      quota: { accept: 'any', bytes: 4 * 1024 * 1024, used: content.byteLength, perPeerShare: 0.5, perPeerBytes: 2 * 1024 * 1024 },
      peers: [{ peer: a.peerId, replicas: 1, bytes: content.byteLength }]
    })
    // a's own pin says what its last check found: two live copies
    const own = await waitForValue(async () => (await a.pins()).find(p => p.replication != null && p.replication.live.length === 2 && !p.replication.repairing), 'a check finding two copies')
    expect(own).toMatchObject({ cid, kind: 'local', name: 'three.bin', replication: { target: 2 } })
    expect(new Set(own.replication!.live)).toEqual(new Set([a.peerId, b.peerId]))
    expect((await a.repoStat()).pinned).toEqual({ count: 1, bytes: content.byteLength, fetching: 0 })

    expect(await b.dropReplica(cid)).toBe(true)
    expect((await b.repoStat()).quota.used).toBe(0)
    expect((await b.repoStat()).peers).toEqual([])
  })
})
