/**
 * A check that finds too few holders is confirmed by a second check a short
 * wait later (`CONFIRM_CHECK_DELAY_MS`, a quarter of the check interval at
 * most), not by the next regular check: a holder that is gone is replaced
 * without waiting a whole interval, and one that comes back within the wait
 * sets off no repair. The regular checks here are 10 minutes apart, so only
 * the check the test asks for and its confirmation run.
 */
import { describe, it, expect, afterEach } from 'vitest'
import { streamLogger, type Dds, type DdsInit } from '../../src/index.js'
import { CONFIRM_CHECK_DELAY_MS } from '../../src/replication/constants.js'
import { Cluster, FAST as CLUSTER_FAST, holdsWhole as holds } from '../utils/cluster.js'
import { pseudoRandomBytes } from '../utils/content.js'
import { waitFor } from '../utils/wait.js'

const INIT: DdsInit = {
  ...CLUSTER_FAST,
  replication: { factor: 2, checkIntervalMs: 10 * 60_000, repairAfterChecks: 2, probeTimeoutMs: 1_000 }
}

describe('confirmation checks', () => {
  const cluster = new Cluster(INIT)
  afterEach(async () => { await cluster.stop() })

  /** A publisher, the node that took its copy, and a spare node with none, each with a LevelDB store. */
  async function setup (): Promise<{ publisher: Dds, holder: Dds, spare: Dds, cid: string, dirs: Map<Dds, string>, lines: Array<Record<string, unknown>> }> {
    const dirs = new Map<Dds, string>()
    const hubDir = await cluster.dir()
    const lines: Array<Record<string, unknown>> = []
    const logger = streamLogger({ level: 'info', format: 'json', write: (line) => { lines.push(JSON.parse(line) as Record<string, unknown>) } })
    const publisher = await cluster.node({ storage: hubDir, logger })
    dirs.set(publisher, hubDir)
    const others = await Promise.all([0, 1].map(async () => {
      const dir = await cluster.dir()
      const node = await cluster.node({ storage: dir, bootstrap: publisher.getMultiaddrs() })
      dirs.set(node, dir)
      return node
    }))
    await others[0]!.libp2p.dial(others[1]!.libp2p.peerId)
    const cid = await publisher.publish(pseudoRandomBytes(2 * 262144 + 5, 71))
    await waitFor(async () => (await holds(others[0]!, cid)) || (await holds(others[1]!, cid)), 'a copy after the publish')
    const holder = (await holds(others[0]!, cid)) ? others[0]! : others[1]!
    const spare = holder === others[0] ? others[1]! : others[0]!
    // a check that finds the factor met: the low checks start from 0
    const settled = await publisher.replicationStatus(cid, { refresh: true })
    expect(settled?.live.sort()).toEqual([publisher.peerId, holder.peerId].sort())
    expect(settled?.lowChecks).toBe(0)
    expect(await holds(spare, cid)).toBe(false)
    return { publisher, holder, spare, cid, dirs, lines }
  }

  it('a holder that is gone is replaced at the confirmation check, not at the next regular one', async () => {
    const { publisher, holder, spare, cid, lines } = await setup()
    await cluster.stopNode(holder)
    const low = await publisher.replicationStatus(cid, { refresh: true })
    expect(low?.live).toEqual([publisher.peerId])
    expect(low?.lowChecks).toBe(1)
    // the operator sees the missing copy and the check to come
    expect(lines.find(l => l.msg === 'copies below target, checking again' && l.cid === cid)).toMatchObject({ level: 'info', component: 'dds:replication', live: 1, target: 2 })
    expect(await holds(spare, cid)).toBe(false)
    // no regular check comes for 10 minutes: only the confirmation can repair
    await waitFor(async () => holds(spare, cid), `the spare node to hold a copy after the confirmation check (${CONFIRM_CHECK_DELAY_MS} ms)`)
    const status = await publisher.replicationStatus(cid)
    expect(status?.lowChecks).toBe(2)
    expect(status?.copiesRequested).toBeGreaterThanOrEqual(1)
  }, 60_000)

  it('a replica holder whose publisher is gone repairs at the confirmation check, with nobody to wait for', async () => {
    const { publisher, holder, spare, cid } = await setup()
    // the holder's own check counts the publisher, whom its copy is for
    expect((await holder.replicationStatus(cid, { refresh: true }))?.live.sort()).toEqual([publisher.peerId, holder.peerId].sort())
    await cluster.stopNode(publisher)
    const low = await holder.replicationStatus(cid, { refresh: true })
    expect(low?.live).toEqual([holder.peerId])
    expect(low?.lowChecks).toBe(1)
    await waitFor(async () => holds(spare, cid), 'the spare node to hold a copy made by the replica holder')
    // repaired at the confirmation (the second low check), not one check later
    // as while the publisher is live (the publisher repairs first then)
    const status = await holder.replicationStatus(cid)
    expect(status?.lowChecks).toBe(2)
    expect(status?.copiesRequested).toBeGreaterThanOrEqual(1)
  }, 60_000)

  it('a holder that comes back within the wait sets off no repair', async () => {
    const { publisher, holder, spare, cid, dirs } = await setup()
    const dir = dirs.get(holder)!
    await cluster.stopNode(holder)
    const low = await publisher.replicationStatus(cid, { refresh: true })
    expect(low?.lowChecks).toBe(1)
    const requested = low?.copiesRequested ?? 0
    // the same node (its identity is in its store) back before the confirmation
    const back = await cluster.node({ storage: dir, bootstrap: publisher.getMultiaddrs() })
    expect(back.peerId).toBe(holder.peerId)
    const confirmedAfter = low!.lastCheck
    await waitFor(async () => ((await publisher.replicationStatus(cid))?.lastCheck ?? 0) > confirmedAfter, 'the confirmation check')
    const status = await publisher.replicationStatus(cid)
    expect(status?.live.sort()).toEqual([publisher.peerId, back.peerId].sort())
    expect(status?.lowChecks).toBe(0)
    expect(status?.copiesRequested).toBe(requested)
    expect(await holds(spare, cid)).toBe(false)
  }, 60_000)
})
