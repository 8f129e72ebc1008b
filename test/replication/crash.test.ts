/**
 * Crash safety (issue 4, item 5): a child process runs a DDS node on a
 * LevelDB store and is killed with SIGKILL in the middle of a large publish
 * or of a gc; the test then reopens the same directory and checks that
 *
 * - every stored block matches its CID, and the persisted counters (`stats()`)
 *   match a recount;
 * - every pin listed as complete has its manifest, tree nodes and chunks;
 * - the interrupted publish is either cleanly absent from the pins or
 *   complete (and then retrieves with the right SHA-256);
 * - a gc afterwards leaves exactly the blocks of the complete pins;
 * - a gc killed mid-sweep lost nothing of the pins it kept, and a second gc
 *   finishes its job.
 *
 * The child (fixtures/crash-child.mjs) imports the built package, so dist/
 * must be current: `npm test` builds first. Content comes from
 * fixtures/crash-content.mjs, so the test derives the expected CIDs and
 * hashes itself instead of trusting the child.
 */
import { describe, it, expect, beforeAll, afterEach } from 'vitest'
import { fileURLToPath } from 'node:url'
import {
  type Dds, cidToString, parseCid, decodeManifest, decodeManifestNode, chunkCidsOf, type CID, type StorageProvider, type Pin
} from '../../src/index.js'
import { Cluster, OWN_DEADLINES } from '../utils/cluster.js'
import { Children, assertBuilt, type Line } from '../utils/child.js'
import { SCENARIOS, contentSize, MiB } from './fixtures/crash-content.mjs'
import { difference, expected, sha256Of, sorted, verifiedBlocks, type Expected } from './fixtures/crash-audit.js'

const CHILD = fileURLToPath(new URL('./fixtures/crash-child.mjs', import.meta.url))

// ---------------------------------------------------------------------------
// Checking a reopened store

/** The blocks of the content pinned as `cid`, read from the store: which are there and which are missing. */
async function pinBlocks (storage: StorageProvider, cid: CID): Promise<{ size?: number, present: Set<string>, missing: string[] }> {
  const present = new Set<string>()
  const missing: string[] = []
  const manifestBytes = await storage.get(cid)
  if (manifestBytes == null) {
    return { present, missing: [`manifest ${cidToString(cid)}`] }
  }
  present.add(cidToString(cid))
  const manifest = decodeManifest(manifestBytes)
  const chunks = chunkCidsOf(manifest, async (node, index, expectedCount) => {
    const bytes = await storage.get(node)
    if (bytes == null) {
      missing.push(`tree node ${index} ${cidToString(node)}`)
      return []
    }
    present.add(cidToString(node))
    return decodeManifestNode(bytes, expectedCount)
  })
  for await (const chunk of chunks) {
    if (await storage.has(chunk)) {
      present.add(cidToString(chunk))
    } else {
      missing.push(`chunk ${cidToString(chunk)}`)
    }
  }
  return { size: manifest.size, present, missing }
}

interface Audit {
  /** Every stored block (base58btc). */
  stored: Set<string>
  pins: Pin[]
  /** The blocks of every complete pin. */
  referenced: Set<string>
}

/**
 * Reads every stored block and checks it against its CID, recounts blocks
 * and bytes against `stats()`, and checks that every complete pin has all of
 * its blocks and the size its manifest says.
 */
async function audit (dds: Dds): Promise<Audit> {
  const stored = await verifiedBlocks(dds.storage)
  const pins = await dds.pins()
  const referenced = new Set<string>()
  for (const pin of pins) {
    expect(pin.kind).toBe('local')
    // publish writes a pin only once everything is stored; nothing here fetches
    expect(pin.state, `pin ${pin.cid}`).toBe('complete')
    const { size, present, missing } = await pinBlocks(dds.storage, parseCid(pin.cid))
    expect(missing, `blocks missing from the complete pin ${pin.cid}`).toEqual([])
    expect(pin.size, `size of pin ${pin.cid}`).toBe(size)
    present.forEach(key => referenced.add(key))
  }
  return { stored, pins, referenced }
}

// ---------------------------------------------------------------------------

describe('crash safety: SIGKILL a LevelDB node mid-operation, reopen, verify', () => {
  const children = new Children()
  const cluster = new Cluster(OWN_DEADLINES)

  beforeAll(assertBuilt)

  afterEach(async () => {
    await children.killAll()
    await cluster.stop()
  })

  async function tempDir (): Promise<string> {
    return cluster.dir('dds-crash-')
  }

  function run (mode: 'publish' | 'gc' | 'control', dir: string): ReturnType<Children['start']> {
    return children.start(CHILD, [mode, dir, '8'])
  }

  async function reopen (dir: string): Promise<Dds> {
    return cluster.node({ storage: dir, announce: 'none' })
  }

  async function stop (dds: Dds): Promise<void> {
    await cluster.stopNode(dds)
  }

  const { publish } = SCENARIOS
  const bigSize = contentSize(publish.big)

  const publishKills: Array<{ name: string, at: (line: Line) => boolean, midway: boolean }> = [
    // past the 8 MiB shared with the base content, so unique chunks were written
    { name: 'early (after 24 MiB)', at: l => l.tag === 'progress' && l.detail.bytes >= 24 * MiB, midway: true },
    { name: 'in the middle (after 192 MiB)', at: l => l.tag === 'progress' && l.detail.bytes >= 192 * MiB, midway: true },
    // while the last batch, the manifest and the pin are being written: either outcome is legal
    { name: 'at the end (last chunk read)', at: l => l.tag === 'last-chunk', midway: false }
  ]

  for (const kill of publishKills) {
    it(`a publish of ${Math.round(bigSize / MiB)} MiB killed ${kill.name} leaves a consistent store, and is absent or complete`, async () => {
      const dir = await tempDir()
      const base = await expected(publish.before.base!, publish.chunksPerBlock)
      const big = await expected(publish.big, publish.chunksPerBlock)

      const child = run('publish', dir)
      const published = await child.waitFor('the base content to be published', l => l.tag === 'published' && l.detail.name === 'base')
      expect(published.detail.cid).toBe(base.cid)
      const trigger = await child.waitFor(`the kill point (${kill.name})`, kill.at)
      const exit = await child.kill()
      expect(exit.signal, `the child should die of SIGKILL; stderr:\n${child.stderr}`).toBe('SIGKILL')
      const finished = child.has('published', d => d.name === 'big')
      if (kill.midway) {
        expect(finished, `the publish finished before the kill (killed at ${JSON.stringify(trigger.detail)}); the kill point is too late`).toBe(false)
      }

      const dds = await reopen(dir)
      const before = await audit(dds)
      const pinned = sorted(before.pins.map(p => p.cid))
      const bigPinned = pinned.includes(big.cid)
      // the pin list tells the truth: the base, and the big content only if it is complete (audit checked its blocks)
      expect(pinned).toEqual(sorted(bigPinned ? [base.cid, big.cid] : [base.cid]))
      if (finished) {
        expect(bigPinned, 'publish resolved in the child, so its pin must be there').toBe(true)
      }
      // nothing the store holds is foreign to what the child published
      const known = new Set([...base.blocks, ...big.blocks])
      expect(difference(before.stored, known), 'stored blocks that belong to no published content').toEqual([])
      const bigOnly = new Set(difference(big.blocks, base.blocks))
      const orphansBefore = [...before.stored].filter(k => bigOnly.has(k) && !before.referenced.has(k)).length
      if (kill.midway) {
        // the kill left part of the big content behind, for gc to collect
        expect(orphansBefore).toBeGreaterThan(0)
        expect(orphansBefore).toBeLessThan(bigOnly.size)
      }
      expect(await sha256Of(dds, base.cid)).toBe(base.sha256)
      if (bigPinned) {
        expect(await sha256Of(dds, big.cid)).toBe(big.sha256)
      }

      const result = await dds.gc()
      expect(result.blocksRemoved).toBe(orphansBefore)
      const after = await audit(dds)
      expect(sorted(after.pins.map(p => p.cid))).toEqual(pinned)
      // exactly the blocks of the complete pins remain
      expect(sorted(after.stored)).toEqual(sorted(after.referenced))
      expect(sorted(after.stored)).toEqual(sorted(bigPinned ? new Set([...base.blocks, ...big.blocks]) : base.blocks))
      expect(await sha256Of(dds, base.cid)).toBe(base.sha256)

      await stop(dds)
      // a restart after the cleanup changes nothing
      const again = await reopen(dir)
      const last = await audit(again)
      expect(sorted(last.pins.map(p => p.cid))).toEqual(pinned)
      expect(sorted(last.stored)).toEqual(sorted(after.stored))
      console.info(`publish killed ${kill.name} at ${JSON.stringify(trigger.detail)}: big content ${bigPinned ? 'complete' : 'absent'}, ${orphansBefore} orphan blocks collected`)
    })
  }

  const { gc } = SCENARIOS
  const gcKills = [
    { name: 'at its first deletes', removed: 1 },
    { name: 'in the middle of the sweep', removed: 300 }
  ]

  for (const kill of gcKills) {
    it(`a gc killed ${kill.name} loses nothing pinned, and a second gc finishes the job`, async () => {
      const dir = await tempDir()
      const contents: Record<string, Expected> = {}
      for (const [name, segments] of Object.entries(gc.contents)) {
        contents[name] = await expected(segments, gc.chunksPerBlock)
      }
      const keep = gc.keep.map(name => contents[name]!)
      const kept = new Set(keep.flatMap(c => [...c.blocks]))
      const dropped = new Set(Object.entries(contents).filter(([name]) => !gc.keep.includes(name)).flatMap(([, c]) => [...c.blocks].filter(k => !kept.has(k))))

      const child = run('gc', dir)
      const start = await child.waitFor('gc-start', l => l.tag === 'gc-start')
      for (const [name, c] of Object.entries(contents)) {
        expect(child.lines.find(l => l.tag === 'published' && l.detail.name === name)?.detail.cid, `CID of ${name}`).toBe(c.cid)
      }
      expect(start.detail.blocks).toBe(kept.size + dropped.size)
      const trigger = await child.waitFor(`gc to remove ${kill.removed} blocks`, l => l.tag === 'gc-progress' && l.detail.removed >= kill.removed)
      const exit = await child.kill()
      expect(exit.signal, `the child should die of SIGKILL; stderr:\n${child.stderr}`).toBe('SIGKILL')
      expect(child.has('gc-done'), `gc finished before the kill (killed at ${JSON.stringify(trigger.detail)}); the kill point is too late`).toBe(false)

      const dds = await reopen(dir)
      const before = await audit(dds)
      // the pins that were kept are all there, complete, and nothing else is pinned
      expect(sorted(before.pins.map(p => p.cid))).toEqual(sorted(keep.map(c => c.cid)))
      expect(difference(kept, before.stored), 'blocks of kept pins that the interrupted gc removed').toEqual([])
      for (const c of keep) {
        expect(await sha256Of(dds, c.cid)).toBe(c.sha256)
      }
      // the gc was really interrupted: it removed some of the unpinned blocks, not all
      const left = [...before.stored].filter(k => dropped.has(k))
      expect(difference(before.stored, new Set([...kept, ...dropped])), 'stored blocks that belong to no published content').toEqual([])
      expect(left.length).toBeGreaterThan(0)
      expect(left.length).toBeLessThan(dropped.size)

      const second = await dds.gc()
      expect(second.blocksRemoved).toBe(left.length)
      expect(second.blocksKept).toBe(kept.size)
      const after = await audit(dds)
      expect(sorted(after.stored)).toEqual(sorted(kept))
      expect(sorted(after.referenced)).toEqual(sorted(kept))
      for (const c of keep) {
        expect(await sha256Of(dds, c.cid)).toBe(c.sha256)
      }
      expect((await dds.gc()).blocksRemoved).toBe(0)
      console.info(`gc killed ${kill.name} at ${JSON.stringify(trigger.detail)}: ${dropped.size - left.length} of ${dropped.size} unpinned blocks were gone, the second gc removed ${left.length}`)
    })
  }

  it('control: a publish that completed survives a SIGKILL before the store is closed', async () => {
    const dir = await tempDir()
    const { control } = SCENARIOS
    const whole = await expected(control.contents.whole!, control.chunksPerBlock)
    const child = run('control', dir)
    await child.waitFor('done', l => l.tag === 'done')
    await child.kill()
    expect(child.lines.find(l => l.tag === 'published')?.detail.cid).toBe(whole.cid)

    const dds = await reopen(dir)
    const before = await audit(dds)
    expect(before.pins.map(p => p.cid)).toEqual([whole.cid])
    expect(sorted(before.stored)).toEqual(sorted(whole.blocks))
    expect(await sha256Of(dds, whole.cid)).toBe(whole.sha256)
    expect((await dds.gc()).blocksRemoved).toBe(0)
  })
})
