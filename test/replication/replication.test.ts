/**
 * The replication manager with real nodes: copies made after a publish,
 * repaired when holders stop, and the content surviving its publisher.
 */
import { describe, it, expect, afterEach } from 'vitest'
import { parseCid, type Dds, type DdsInit } from '../../src/index.js'
import { Cluster, FAST as CLUSTER_FAST } from '../utils/cluster.js'
import { pseudoRandomBytes, sha256Hex } from '../utils/content.js'
import { waitFor } from '../utils/wait.js'

/** Fast checks and short deadlines so repair happens within seconds. */
const FAST: DdsInit = {
  ...CLUSTER_FAST,
  network: {},
  replication: { factor: 3, checkIntervalMs: 500, repairAfterChecks: 2, probeTimeoutMs: 1_000 }
}

describe('replication', () => {
  const cluster = new Cluster(FAST)
  afterEach(async () => { await cluster.stop() })

  async function network (count: number, init: DdsInit = {}): Promise<Dds[]> {
    return cluster.network(count, init)
  }

  async function stop (node: Dds): Promise<void> {
    await cluster.stopNode(node)
  }

  async function holders (all: Dds[], cid: string): Promise<Dds[]> {
    const result: Dds[] = []
    for (const n of all.filter(n => cluster.running(n))) {
      const pin = (await n.pins()).find(p => p.cid === cid)
      if (pin?.state === 'complete') result.push(n)
    }
    return result
  }

  /**
   * Waits until every running holder of `cid` has run `rounds` whole
   * replication checks of it that started after this call (one more round
   * lets a check already under way end), so whatever those checks decide (a
   * repair, a drop) is done before the test counts copies. Checks of one
   * content run one at a time, so once a holder's next check has recorded
   * its time, the one before it has finished.
   */
  async function settled (all: Dds[], cid: string, rounds = 2): Promise<void> {
    for (let round = 0; round <= rounds; round++) {
      const nodes = await holders(all, cid)
      const before = await Promise.all(nodes.map(async n => (await n.replicationStatus(cid))?.lastCheck ?? 0))
      await waitFor(async () => {
        const now = await Promise.all(nodes.map(async n => cluster.running(n) ? (await n.replicationStatus(cid))?.lastCheck ?? 0 : Infinity))
        return now.every((t, i) => t > before[i]!)
      }, `replication check ${round + 1} of ${rounds + 1} on every holder`)
    }
  }

  it('keeps 3 live copies on 6 nodes, repairs after two holders stop, and outlives the publisher', async () => {
    const all = await network(6)
    const publisher = all[1]!
    const content = pseudoRandomBytes(3 * 262144 + 11, 61)
    const started = Date.now()
    const cid = await publisher.publish(content)

    await waitFor(async () => (await holders(all, cid)).length >= 3, '3 holders after publish')
    const firstCopies = Date.now() - started
    // let further checks run before counting
    await settled(all, cid)
    const initial = await holders(all, cid)
    expect(initial).toContain(publisher)
    const status = await publisher.replicationStatus(cid)
    expect(status?.target).toBe(3)

    // stop two replica holders (not the publisher)
    const victims = initial.filter(n => n !== publisher).slice(0, 2)
    for (const v of victims) {
      await stop(v)
    }
    const stoppedAt = Date.now()
    await waitFor(async () => (await holders(all, cid)).length >= 3, 'the factor restored')
    const repairMs = Date.now() - stoppedAt
    await settled(all, cid)
    const after = await holders(all, cid)
    expect(after.some(n => victims.includes(n))).toBe(false)

    // the publisher goes away; the content is still there, bytes verified
    await stop(publisher)
    const reader = all.find(n => cluster.running(n) && !after.includes(n)) ?? all.find(n => cluster.running(n))!
    expect(sha256Hex(await reader.retrieveBytes(cid))).toBe(sha256Hex(content))

    console.log(`replication: first 3 copies after ${firstCopies} ms (${initial.length} holders), factor restored ${repairMs} ms after 2 holders stopped (${after.length} holders)`)
    // copies beyond the factor stay within the slack the manager allows
    expect(initial.length).toBeLessThanOrEqual(3 + 2)
    expect(after.length).toBeLessThanOrEqual(3 + 2)
  })

  it('refuses a replica over its quota with REJECTED and stores nothing of it', async () => {
    const [a, b] = await network(2, {})
    await stop(b!)
    const small = await cluster.node({ bootstrap: a!.getMultiaddrs(), replication: { quotaBytes: 10 * 1024 * 1024, perPeerShare: 1 } })
    const big = pseudoRandomBytes(20 * 1024 * 1024, 62)
    const cid = await a!.publish(big)
    const statsBefore = await small.storage.stats()
    await expect(a!.replication.instructReplicate(small.libp2p.peerId, parseCid(cid), [a!.libp2p.peerId]))
      .rejects.toThrowError(expect.objectContaining({ name: 'RejectedError', message: expect.stringMatching(/quota/) }))
    expect(await small.replicas()).toEqual([])
    // only the manifest was read to learn the size; no chunk was stored
    const statsAfter = await small.storage.stats()
    expect(statsAfter.blocks).toBe(statsBefore.blocks)

    // accepted data counts against the quota: 6 MiB fits, another 6 MiB does not
    const first = await a!.publish(pseudoRandomBytes(6 * 1024 * 1024, 63))
    await a!.replication.instructReplicate(small.libp2p.peerId, parseCid(first), [a!.libp2p.peerId])
    await waitFor(async () => (await small.replicas()).some(p => p.cid === first && p.state === 'complete'), 'the first replica')
    const second = await a!.publish(pseudoRandomBytes(6 * 1024 * 1024, 64))
    await expect(a!.replication.instructReplicate(small.libp2p.peerId, parseCid(second), [a!.libp2p.peerId]))
      .rejects.toThrowError(expect.objectContaining({ name: 'RejectedError' }))
  })

  it('refuses a peer outside its allow list', async () => {
    const [a] = await network(1, { replication: { factor: 1 } })
    const strict = await cluster.node({ bootstrap: a!.getMultiaddrs(), replication: { accept: ['12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp'] } })
    const cid = await a!.publish(pseudoRandomBytes(1000, 65))
    await expect(a!.replication.instructReplicate(strict.libp2p.peerId, parseCid(cid), [a!.libp2p.peerId]))
      .rejects.toThrowError(expect.objectContaining({ name: 'RejectedError', message: expect.stringMatching(/allow list/) }))
    const none = await cluster.node({ bootstrap: a!.getMultiaddrs(), replication: { accept: 'none' } })
    await expect(a!.replication.instructReplicate(none.libp2p.peerId, parseCid(cid), [a!.libp2p.peerId]))
      .rejects.toThrowError(expect.objectContaining({ name: 'RejectedError' }))
  })

  it('heals the count after the publisher is gone: the replica holders repair', async () => {
    const all = await network(6)
    const publisher = all[2]!
    const content = pseudoRandomBytes(2 * 262144 + 5, 66)
    const cid = await publisher.publish(content)
    await waitFor(async () => (await holders(all, cid)).length >= 3, '3 holders after publish')
    await stop(publisher)
    const remaining = (await holders(all, cid))
    expect(remaining).toHaveLength(2)
    // one replica holder goes too: one copy left, and nobody who published it
    await stop(remaining[0]!)
    await waitFor(async () => (await holders(all, cid)).length >= 3, 'the replica holders to restore the factor')
    const reader = all.find(n => cluster.running(n) && !remaining.includes(n))!
    expect(sha256Hex(await reader.retrieveBytes(cid))).toBe(sha256Hex(content))
  })

  it('drops copies above the upper bound of the band, keeping the lowest peer ids and every local pin', async () => {
    const all = await network(4, { replication: { factor: 2, maxCopies: 2 } })
    const publisher = all[0]!
    const cid = await publisher.publish(pseudoRandomBytes(262144 + 1, 67))
    // more copies than the band allows, made by hand
    for (const n of all.slice(1)) {
      await publisher.replication.instructReplicate(n.libp2p.peerId, parseCid(cid), [publisher.libp2p.peerId]).catch(() => {})
    }
    // every node holds a copy at some point (the band may start trimming
    // before the last one is complete, so 4 at once is not waited for)
    const held = new Set<string>()
    await waitFor(async () => {
      for (const n of await holders(all, cid)) held.add(n.peerId)
      return held.size === 4
    }, 'every node to have held a copy')
    // the two lowest peer ids keep their copies, and so does the publisher wherever it ranks
    const lowest = all.map(n => n.peerId).sort().slice(0, 2)
    const expected = new Set([...lowest, publisher.peerId])
    await waitFor(async () => (await holders(all, cid)).length === expected.size, 'the copies above the band to be dropped')
    await settled(all, cid)
    expect(new Set((await holders(all, cid)).map(n => n.peerId))).toEqual(expected)
  })
})
