/**
 * A small network of the testbed's scale runs (testbed/lib/scale.mjs, what
 * `npm run testbed -- --nodes N` runs): 12 DDS nodes, each a process in its
 * own namespace, every link 5 ms each way with 1 % loss per direction; 8 of
 * them publish, random nodes retrieve; one node announces 500 records in a
 * sweep (and 20 one by one), others find them, and it runs its whole
 * re-announcement cycle while it serves; then one churn round SIGKILLs 20 % of
 * the nodes and starts fresh ones while a probe retrieves every 2 s.
 *
 * Needs root with iproute2, iptables and python3; elsewhere the suite is
 * skipped and says why.
 */
import { describe, expect, it } from 'vitest'
import { listNamespaces, runScale } from '../../testbed/index.mjs'
import { available, title } from './helpers.js'

/** How long the scenario may take before vitest ends it. */
const SCENARIO_MS = 300_000

/** The nodes' replication check interval: short, so the test sees repairs. */
const CHECK_MS = 10_000

describe.skipIf(!available.ok)(title('a network of 12 in the testbed'), () => {
  it('forms, serves random retrievals, announces in sweeps, keeps serving through a churn round, and gets every content back to its factor', async () => {
    const result = await runScale({
      nodes: 12,
      delayMs: 5,
      lossPct: 1,
      sizeBytes: 512 * 1024,
      publishers: 4,
      retrievals: 8,
      churn: { pct: 20, intervalMs: 25_000 },
      durationS: 40,
      checkIntervalMs: CHECK_MS,
      // the property, not the time: wait long enough for a loaded machine
      factorWaitIntervals: 8,
      announceRecords: 500,
      announceSingles: 20,
      reannounceSamples: 3,
      idleCpuMs: 5_000
    }, { seed: 13 })
    console.log(JSON.stringify({
      dhtFormedMs: result.dhtFormedMs,
      firstByte: result.firstByte,
      memoryIdle: result.memoryIdle,
      memoryLoaded: result.memoryLoaded,
      idle: result.idle,
      announce: result.announce,
      churn: { ...result.churn, probes: { ...result.churn?.probes } }
    }))

    expect(result.routingTable.min).toBeGreaterThanOrEqual(8)
    // announcing completed: every publish resolved after its announcements
    expect(result.publish.contents).toBe(4)
    expect(result.firstByte.failures).toEqual([])
    expect(result.firstByte.ok).toBe(8)

    // announcing in a sweep: every record reached DHT peers and other nodes find them
    const announce = result.announce!
    expect(announce.error).toBeUndefined()
    expect(announce.sweep.reached).toBe(500)
    expect(announce.sweep.peers.min).toBeGreaterThanOrEqual(1)
    expect(announce.single.reached).toBe(20)
    expect(announce.found.sweep).toBe(announce.found.looked)
    expect(announce.found.single).toBe(announce.found.looked)
    // the whole re-announcement cycle covered every record of the node's own, while its retrievals went on
    expect(announce.reannounce.cycle.records).toBeGreaterThanOrEqual(520)
    expect(announce.reannounce.cycle.reached).toBe(announce.reannounce.cycle.records)
    expect(announce.reannounce.failures).toEqual([])
    expect(announce.reannounce.beforeMibs).toHaveLength(3)
    expect(announce.reannounce.afterMibs).toHaveLength(3)

    const churn = result.churn!
    expect(churn.rounds).toHaveLength(1)
    expect(churn.rounds[0]?.killed).toHaveLength(2)
    // its fresh nodes started (in the background of the schedule) before the run went on
    expect(churn.rounds[0]?.rejoinMs).toBeGreaterThan(0)
    // two nodes killed cannot be every holder of a content at its factor of 3
    expect(churn.rounds[0]?.lost).toEqual([])
    expect(churn.gone).toEqual([])
    expect(churn.beforeChurn.ms).toBeDefined()
    // retrievals succeed through the churn
    expect(churn.probes.sent).toBeGreaterThanOrEqual(15)
    // (a probe whose own node the round killed cannot succeed, and says nothing of the network)
    expect(churn.probes.failures.filter((f: { proberKilled?: boolean }) => f.proberKilled !== true)).toEqual([])
    // every content back at its factor (3 live holders); how many check
    // intervals it took is a figure (printed above), not a test
    expect(churn.afterChurn.ms).toBeDefined()
    expect(churn.afterChurn.holders.every(n => n >= 3)).toBe(true)

    // the idle network's CPU, measured over the 12 live nodes
    expect(result.idle?.nodes).toBe(12)
    expect(result.idle?.cores.nodes).toBeGreaterThan(0)
    expect(result.idle?.cores.machine).toBeGreaterThan(0)

    expect((await listNamespaces()).filter(ns => ns.startsWith(result.namespacePrefix))).toEqual([])
  // ~130 s alone, 158 s among the suite's other workers: the suite's 180 s leaves too little room
  }, SCENARIO_MS)
})
