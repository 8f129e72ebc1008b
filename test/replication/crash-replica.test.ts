/**
 * Crash safety of a replica fetch (issue 4, item 5): "a replica fetch ...
 * interrupted at any point (process killed with SIGKILL) leaves the LevelDB
 * store consistent after restart ... an interrupted publish or replication
 * either resumes or is cleanly absent".
 *
 * The test process runs a publisher (memory store) that publishes a large
 * deterministic content. A child process (fixtures/replica-child.mjs) runs a
 * LevelDB node that bootstraps to the publisher; the publisher sends it a
 * ReplicationInstruction, and the child is killed with SIGKILL while it
 * fetches the replica (once, or twice: the second time while the restarted
 * child resumes the fetch). The test then
 *
 * - opens the bare store (no node, so nothing resumes yet) and checks that
 *   every stored block matches its CID, that `stats()` matches a recount,
 *   that no stored block is foreign to the content, that the manifest (stored
 *   last) is not there yet, and that the replica pin is `fetching`, never
 *   `complete` with blocks missing;
 * - reopens the directory with a Dds node that bootstraps to the publisher,
 *   reads `pins()` at once (the resume runs in the background: `fetching`, or
 *   `complete` only with every block there), waits for the resumed fetch to
 *   complete, and checks the pin (replica, for the publisher, the right size);
 * - audits the store again: exactly the content's blocks, all verified, and a
 *   gc removes nothing;
 * - restarts the node with no peers at all and retrieves the content from its
 *   own store, checking its SHA-256.
 *
 * The child imports the built package, so dist/ must be current: `npm test`
 * builds first.
 */
import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest'
import { fileURLToPath } from 'node:url'
import { peerIdFromString } from '@libp2p/peer-id'
import { type Dds, parseCid, createStorage, type Pin } from '../../src/index.js'
import { recordStore } from '../../src/storage/index.js'
import { PinIndex } from '../../src/replication/pins.js'
import { PINS_TABLE } from '../../src/replication/index.js'
import { Cluster, OWN_DEADLINES } from '../utils/cluster.js'
import { Children, CHILD_WAIT_MS, assertBuilt, type ChildRun, type Line } from '../utils/child.js'
import { waitForValue } from '../utils/wait.js'
import { contentSize, contentStream, type Segment, MiB } from './fixtures/crash-content.mjs'
import { difference, expected, sha256Of, sorted, verifiedBlocks, type Expected } from './fixtures/crash-audit.js'

const CHILD = fileURLToPath(new URL('./fixtures/replica-child.mjs', import.meta.url))
const GiB = 1024 * MiB

/** The replicated content: 224 MiB and a bit (897 chunks), with a manifest tree (a node per 64 chunks). */
const CONTENT: Segment[] = [{ seed: 'replica-crash', bytes: 224 * MiB + 4321 }]
const CHUNKS_PER_BLOCK = 64
const REPLICATION = { factor: 1, quotaBytes: 4 * GiB, perPeerShare: 1 }

/** The highest block count a replica-child reported. */
function blocksReported (child: ChildRun): number {
  return child.lines.reduce((max, l) => (l.tag === 'blocks' || l.tag === 'ready') && typeof l.detail.blocks === 'number' ? Math.max(max, l.detail.blocks) : max, 0)
}

/** True when a replica-child ever listed `cid` as a complete pin. */
function sawComplete (child: ChildRun, cid: string): boolean {
  return child.lines.some(l => (l.tag === 'pins' && Array.isArray(l.detail) && l.detail.some((p: Pin) => p.cid === cid && p.state === 'complete')) ||
    (l.tag === 'ready' && (l.detail.pins as Pin[]).some(p => p.cid === cid && p.state === 'complete')))
}

// ---------------------------------------------------------------------------
// Checking a store

interface Snapshot { stored: Set<string>, pins: Pin[] }

/** Opens the bare LevelDB store (no node, so no fetch resumes) and reads what the killed child left. */
async function snapshot (dir: string): Promise<Snapshot> {
  const storage = createStorage(dir)
  await storage.open()
  try {
    const stored = await verifiedBlocks(storage)
    const pins: Pin[] = []
    for await (const { manifest: _manifest, ...pin } of new PinIndex(recordStore(storage, PINS_TABLE)).list()) {
      pins.push(pin)
    }
    return { stored, pins }
  } finally {
    await storage.close()
  }
}

// ---------------------------------------------------------------------------

describe('crash safety: SIGKILL a LevelDB node mid replica fetch, reopen, verify', () => {
  const children = new Children()
  // the nodes' own deadlines: a reopened store resumes a 224 MiB fetch on a loaded machine
  const cluster = new Cluster(OWN_DEADLINES)
  let publisher: Dds
  let content: Expected
  let publisherAddr: string

  // the publisher outlives every test; each test's nodes and dirs are its own
  const publishers = new Cluster(OWN_DEADLINES)

  beforeAll(async () => {
    assertBuilt()
    content = await expected(CONTENT, CHUNKS_PER_BLOCK)
    publisher = await publishers.node({ announce: 'manifest', manifestChunksPerBlock: CHUNKS_PER_BLOCK })
    const cid = await publisher.publish(contentStream(CONTENT))
    expect(cid).toBe(content.cid)
    publisherAddr = publisher.getMultiaddrs()[0]!
  })

  afterAll(async () => {
    await publishers.stop()
  })

  afterEach(async () => {
    await children.killAll()
    await cluster.stop()
  })

  async function tempDir (): Promise<string> {
    return cluster.dir('dds-crash-replica-')
  }

  async function startChild (dir: string): Promise<{ child: ChildRun, ready: Line }> {
    const child = children.start(CHILD, [dir, publisherAddr])
    const ready = await child.waitFor('the child node to start', l => l.tag === 'ready')
    return { child, ready }
  }

  /** Kills the child once its store holds at least `atBlocks` blocks; checks it died mid-fetch. */
  async function killAt (child: ChildRun, atBlocks: number): Promise<number> {
    const total = content.blocks.size
    await child.waitFor(`the child to hold ${atBlocks} blocks`, l => l.tag === 'blocks' && l.detail.blocks >= atBlocks)
    const exit = await child.kill()
    expect(exit.signal, `the child should die of SIGKILL; stderr:\n${child.stderr}`).toBe('SIGKILL')
    const reported = blocksReported(child)
    expect(reported, `the fetch finished before the kill (${reported} of ${total} blocks); the kill point is too late`).toBeLessThan(total)
    expect(sawComplete(child, content.cid), 'the child reported the replica complete before the kill').toBe(false)
    return reported
  }

  /** What the killed child left: consistent, nothing foreign, the pin `fetching` and the manifest (stored last) absent. */
  async function checkLeftBehind (dir: string, atLeast: number): Promise<Snapshot> {
    const left = await snapshot(dir)
    expect(difference(left.stored, content.blocks), 'stored blocks that belong to no content').toEqual([])
    // at least as many blocks as the child reported (LevelDB writes survive a process kill), fewer than all
    expect(left.stored.size).toBeGreaterThanOrEqual(atLeast)
    expect(left.stored.size).toBeLessThan(content.blocks.size)
    expect(left.stored.has(content.cid), 'the manifest block is stored last, so it is not there after a kill mid-fetch').toBe(false)
    // the pin was written as `fetching` before the first block, and is never `complete` with blocks missing
    expect(left.pins.map(p => ({ cid: p.cid, kind: p.kind, state: p.state, for: p.for, size: p.size }))).toEqual([
      { cid: content.cid, kind: 'replica', state: 'fetching', for: publisher.peerId, size: content.size }
    ])
    return left
  }

  /** Reopens the directory with a node that bootstraps to the publisher, and waits for the resumed fetch. */
  async function reopenAndResume (dir: string, childPeerId: string): Promise<{ first: Pin[], done: Pin, ms: number }> {
    const started = Date.now()
    const dds = await cluster.node({ storage: dir, bootstrap: [publisherAddr], replication: REPLICATION, announce: 'none' })
    // the same identity: the LevelDB store keeps the key
    expect(dds.peerId).toBe(childPeerId)
    // at once: start() resumes the fetch in the background, so the pin is
    // `fetching` (or, had the resume already finished, `complete`, and then
    // every block must be there); never absent, since the publisher is online
    const first = await dds.pins()
    expect(first.map(p => p.cid)).toEqual([content.cid])
    expect(first[0]!.kind).toBe('replica')
    expect(['fetching', 'complete']).toContain(first[0]!.state)
    if (first[0]!.state === 'complete') {
      for (const key of content.blocks) {
        expect(await dds.has(key), `block ${key} of a pin listed complete`).toBe(true)
      }
    }
    // wait for the resumed fetch to finish; the pin must never vanish meanwhile
    const done = await waitForValue(async () => {
      const pin = (await dds.pins()).find(p => p.cid === content.cid)
      expect(pin, 'the replica pin vanished: the resumed fetch failed though the publisher is online').toBeDefined()
      return pin!.state === 'complete' ? pin : undefined
    }, `the resumed fetch to complete (${content.blocks.size} blocks)`, CHILD_WAIT_MS)
    const ms = Date.now() - started
    expect(done).toMatchObject({ cid: content.cid, kind: 'replica', state: 'complete', size: content.size, for: publisher.peerId })
    expect(await dds.replicas()).toEqual([done])
    // the store: exactly the content's blocks, every one verified, counters right
    const stored = await verifiedBlocks(dds.storage)
    expect(difference(content.blocks, stored), 'blocks of the complete replica missing from the store').toEqual([])
    expect(sorted(stored)).toEqual(sorted(content.blocks))
    const gc = await dds.gc()
    expect(gc.blocksRemoved, 'a gc after the resume removes nothing: every block belongs to the replica').toBe(0)
    await cluster.stopNode(dds)
    return { first, done, ms }
  }

  /** Restarts the node with no peers at all and reads the content from its own store. */
  async function retrieveOffline (dir: string): Promise<void> {
    const dds = await cluster.node({ storage: dir, replication: REPLICATION, announce: 'none' })
    expect(dds.libp2p.getPeers(), 'the offline node has no peer to fetch from').toEqual([])
    const pins = await dds.pins()
    expect(pins.map(p => ({ cid: p.cid, kind: p.kind, state: p.state }))).toEqual([{ cid: content.cid, kind: 'replica', state: 'complete' }])
    expect(await sha256Of(dds, content.cid)).toBe(content.sha256)
    expect(sorted(await verifiedBlocks(dds.storage))).toEqual(sorted(content.blocks))
  }

  it(`a replica fetch of ${Math.round(contentSize(CONTENT) / MiB)} MiB killed mid-fetch leaves a consistent store and resumes on restart`, async () => {
    const started = Date.now()
    const dir = await tempDir()
    const { child, ready } = await startChild(dir)
    expect(ready.detail.blocks).toBe(0)
    const childPeerId: string = ready.detail.peerId
    await publisher.replication.instructReplicate(peerIdFromString(childPeerId), parseCid(content.cid), [publisher.libp2p.peerId])
    const killedAt = await killAt(child, 150)

    const left = await checkLeftBehind(dir, killedAt)
    const { first, ms } = await reopenAndResume(dir, childPeerId)
    await retrieveOffline(dir)
    console.info(`replica fetch killed at ${killedAt} reported blocks (${left.stored.size} of ${content.blocks.size} stored); reopened with the pin ${first[0]!.state}, the resume completed in ${ms} ms; ${Date.now() - started} ms in all`)
  })

  it('a replica fetch killed twice (mid-fetch, then mid-resume) leaves a consistent store each time and resumes', async () => {
    const started = Date.now()
    const dir = await tempDir()
    const total = content.blocks.size
    const { child, ready } = await startChild(dir)
    const childPeerId: string = ready.detail.peerId
    await publisher.replication.instructReplicate(peerIdFromString(childPeerId), parseCid(content.cid), [publisher.libp2p.peerId])
    const firstKill = await killAt(child, 110)
    const firstLeft = await checkLeftBehind(dir, firstKill)

    // the same node restarts on its own and resumes the interrupted fetch (no new instruction)
    const second = await startChild(dir)
    expect(second.ready.detail.peerId).toBe(childPeerId)
    expect(second.ready.detail.blocks).toBe(firstLeft.stored.size)
    expect((second.ready.detail.pins as Pin[]).map(p => [p.cid, p.state])).toEqual([[content.cid, 'fetching']])
    const secondKill = await killAt(second.child, Math.max(firstLeft.stored.size + 200, Math.floor(total * 0.6)))
    const secondLeft = await checkLeftBehind(dir, secondKill)
    expect(secondLeft.stored.size).toBeGreaterThan(firstLeft.stored.size)
    // what was there after the first kill is still there: the resume did not start over
    expect(difference(firstLeft.stored, secondLeft.stored)).toEqual([])

    const { first, ms } = await reopenAndResume(dir, childPeerId)
    await retrieveOffline(dir)
    console.info(`replica fetch killed at ${firstLeft.stored.size}, resumed and killed again at ${secondLeft.stored.size} of ${total} blocks; reopened with the pin ${first[0]!.state}, the resume completed in ${ms} ms; ${Date.now() - started} ms in all`)
  })
})
