/**
 * A holder whose last connection closes (its process killed, its host gone)
 * has its content checked within seconds (`HOLDER_LEFT_CHECK_DELAY_MS`), not
 * at the next regular check: under churn, a content whose holders are
 * replaced only every check interval loses them all. The regular checks here
 * are 10 minutes apart, so only the departure can set off the checks.
 */
import { describe, it, expect, afterEach } from 'vitest'
import { streamLogger, type Dds, type DdsInit } from '../../src/index.js'
import { Cluster, FAST as CLUSTER_FAST, holdsWhole as holds } from '../utils/cluster.js'
import { pseudoRandomBytes } from '../utils/content.js'
import { waitFor } from '../utils/wait.js'

const INIT: DdsInit = {
  ...CLUSTER_FAST,
  replication: { factor: 2, checkIntervalMs: 10 * 60_000, repairAfterChecks: 2, probeTimeoutMs: 1_000 }
}

describe('a holder that leaves', () => {
  const cluster = new Cluster(INIT)
  afterEach(async () => { await cluster.stop() })

  /** A publisher and two other nodes, connected to each other; the publisher publishes and one of the others gets the copy (factor 2). */
  async function publishedWithOneCopy (publisherInit: DdsInit, seed: number): Promise<{ publisher: Dds, holder: Dds, spare: Dds, cid: Awaited<ReturnType<Dds['publish']>> }> {
    const publisher = await cluster.node(publisherInit)
    const others = await Promise.all([0, 1].map(async () => cluster.node({ bootstrap: publisher.getMultiaddrs() })))
    await others[0]!.libp2p.dial(others[1]!.libp2p.peerId)
    const cid = await publisher.publish(pseudoRandomBytes(2 * 262144 + 5, seed))
    await waitFor(async () => (await holds(others[0]!, cid)) || (await holds(others[1]!, cid)), 'a copy after the publish')
    const holder = (await holds(others[0]!, cid)) ? others[0]! : others[1]!
    const spare = holder === others[0] ? others[1]! : others[0]!
    return { publisher, holder, spare, cid }
  }

  it('has its content checked at once and replaced after the confirmation, with no regular check', async () => {
    const lines: Array<Record<string, unknown>> = []
    const logger = streamLogger({ level: 'info', format: 'json', write: (line) => { lines.push(JSON.parse(line) as Record<string, unknown>) } })
    const { publisher, holder, spare, cid } = await publishedWithOneCopy({ logger }, 73)
    const settled = await publisher.replicationStatus(cid, { refresh: true })
    expect(settled?.live.sort()).toEqual([publisher.peerId, holder.peerId].sort())
    expect(await holds(spare, cid)).toBe(false)

    await cluster.stopNode(holder)
    // the departure's check finds one holder (low 1), its confirmation a quarter interval later repairs
    await waitFor(async () => (await publisher.replicationStatus(cid))?.lowChecks === 1, 'the check set off by the departure')
    expect(lines.find(l => l.msg === 'a holder left, checking its content')).toMatchObject({ level: 'info', component: 'dds:replication', contents: 1 })
    await waitFor(async () => holds(spare, cid), 'the spare node to hold a copy after the confirmation check', 60_000)
    const status = await publisher.replicationStatus(cid)
    expect(status?.lowChecks).toBe(2)
    expect(status?.copiesRequested).toBeGreaterThanOrEqual(1)
  }, 90_000)

  it('sets off a replica holder\'s check before its own first check, and the replica holder repairs once the publisher is gone', async () => {
    const { publisher, holder, spare, cid } = await publishedWithOneCopy({}, 75)
    // the replica holder has not checked the content (its regular check is 10 minutes away): it knows the publisher holds it
    await waitFor(async () => (await holder.replicationStatus(cid))?.live.includes(publisher.peerId) === true, 'the replica holder to know its copy\'s holders')
    expect((await holder.replicationStatus(cid))?.lastCheck).toBe(0)
    expect(await holds(spare, cid)).toBe(false)

    await cluster.stopNode(publisher)
    // the departure sets off the replica holder's check; with the publisher gone it repairs at the confirmation
    await waitFor(async () => ((await holder.replicationStatus(cid))?.lastCheck ?? 0) > 0, 'the check set off by the departure')
    await waitFor(async () => holds(spare, cid), 'the spare node to hold a copy the replica holder asked for', 60_000)
    expect((await holder.replicationStatus(cid))?.copiesRequested).toBeGreaterThanOrEqual(1)
  }, 90_000)

  it('a peer that held nothing checked here sets off no check', async () => {
    const lines: Array<Record<string, unknown>> = []
    const logger = streamLogger({ level: 'info', format: 'json', write: (line) => { lines.push(JSON.parse(line) as Record<string, unknown>) } })
    const publisher = await cluster.node({ logger, replication: { ...INIT.replication, factor: 1 } })
    const other = await cluster.node({ bootstrap: publisher.getMultiaddrs() })
    const cid = await publisher.publish(pseudoRandomBytes(262144, 74))
    await publisher.replicationStatus(cid, { refresh: true })
    await cluster.stopNode(other)
    await waitFor(() => lines.some(l => l.msg === 'peer disconnected'), 'the departure')
    // past the departure delay: nothing to check
    await new Promise(resolve => setTimeout(resolve, 4_000))
    expect(lines.filter(l => l.msg === 'a holder left, checking its content')).toEqual([])
    expect((await publisher.replicationStatus(cid))?.lowChecks).toBe(0)
  }, 60_000)
})
