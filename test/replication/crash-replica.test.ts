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
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { peerIdFromString } from '@libp2p/peer-id'
import {
  Dds, blockMatchesCid, cidToString, parseCid, chunkContent, ContentHasher, ManifestBuilder,
  createStorage, type Pin, type StorageProvider
} from '../../src/index.js'
import { recordStore } from '../../src/storage/index.js'
import { PinIndex } from '../../src/replication/pins.js'
import { PINS_TABLE } from '../../src/replication/index.js'
import { contentSha256, contentSize, contentStream, type Segment, MiB } from './fixtures/crash-content.mjs'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const CHILD = fileURLToPath(new URL('./fixtures/replica-child.mjs', import.meta.url))
const GiB = 1024 * MiB
/** How long the child may take to reach a point the test waits for. */
const WAIT_MS = 30_000

/** The replicated content: 224 MiB and a bit (897 chunks), with a manifest tree (a node per 64 chunks). */
const CONTENT: Segment[] = [{ seed: 'replica-crash', bytes: 224 * MiB + 4321 }]
const CHUNKS_PER_BLOCK = 64
const REPLICATION = { factor: 1, quotaBytes: 4 * GiB, perPeerShare: 1 }

// ---------------------------------------------------------------------------
// The child process

interface Line { tag: string, detail: any }

/** A running replica-child.mjs: its stdout as parsed lines, its stderr, its exit. */
class ChildRun {
  readonly child: ChildProcess
  readonly lines: Line[] = []
  readonly exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  stderr = ''
  private readonly listeners = new Set<() => void>()
  private done = false

  constructor (dir: string, bootstrap: string) {
    this.child = spawn(process.execPath, [CHILD, dir, bootstrap], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    this.child.stderr!.setEncoding('utf8')
    this.child.stderr!.on('data', (text: string) => { this.stderr += text })
    const reader = createInterface({ input: this.child.stdout! })
    reader.on('line', (text) => {
      const space = text.indexOf(' ')
      const tag = space < 0 ? text : text.slice(0, space)
      let detail: any = {}
      try { detail = space < 0 ? {} : JSON.parse(text.slice(space + 1)) } catch { detail = { raw: text } }
      this.lines.push({ tag, detail })
      this.notify()
    })
    const stdoutClosed = new Promise<void>(resolve => { reader.on('close', resolve) })
    this.exited = new Promise((resolve) => {
      this.child.on('error', (err) => {
        if (this.child.pid == null) {
          this.stderr += `could not start the child: ${err.message}\n`
          this.done = true
          this.notify()
          resolve({ code: null, signal: null })
        }
      })
      this.child.on('exit', (code, signal) => {
        void stdoutClosed.then(() => {
          this.done = true
          this.notify()
          resolve({ code, signal })
        })
      })
    })
  }

  get running (): boolean {
    return this.child.exitCode == null && this.child.signalCode == null
  }

  /** Resolves with the first line (seen so far or later) that matches; rejects if the child exits first or on timeout. */
  async waitFor (what: string, match: (line: Line) => boolean, timeoutMs = WAIT_MS): Promise<Line> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = this.lines.find(match)
        if (found != null) {
          finish()
          resolve(found)
          return true
        }
        if (this.done) {
          finish()
          reject(new Error(`the child exited before ${what} (exit code ${String(this.child.exitCode)}, signal ${String(this.child.signalCode)}); stderr:\n${this.stderr}\nlast lines: ${this.tail()}`))
          return true
        }
        return false
      }
      const timer = setTimeout(() => {
        finish()
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; stderr:\n${this.stderr}\nlast lines: ${this.tail()}`))
      }, timeoutMs)
      const finish = (): void => {
        clearTimeout(timer)
        this.listeners.delete(listener)
      }
      const listener = (): void => { check() }
      if (!check()) {
        this.listeners.add(listener)
      }
    })
  }

  /** SIGKILL, then wait until the process is gone and its output read. */
  async kill (): Promise<{ code: number | null, signal: NodeJS.Signals | null }> {
    if (this.running) {
      this.child.kill('SIGKILL')
    }
    return this.exited
  }

  /** The highest block count the child reported. */
  get blocks (): number {
    return this.lines.reduce((max, l) => (l.tag === 'blocks' || l.tag === 'ready') && typeof l.detail.blocks === 'number' ? Math.max(max, l.detail.blocks) : max, 0)
  }

  /** True when the child ever listed `cid` as a complete pin. */
  sawComplete (cid: string): boolean {
    return this.lines.some(l => (l.tag === 'pins' && Array.isArray(l.detail) && l.detail.some((p: Pin) => p.cid === cid && p.state === 'complete')) ||
      (l.tag === 'ready' && (l.detail.pins as Pin[]).some(p => p.cid === cid && p.state === 'complete')))
  }

  tail (): string {
    return this.lines.slice(-5).map(l => `${l.tag} ${JSON.stringify(l.detail)}`).join(' | ')
  }

  private notify (): void {
    for (const listener of [...this.listeners]) {
      listener()
    }
  }
}

// ---------------------------------------------------------------------------
// The content, derived independently of any node

interface Expected {
  cid: string
  size: number
  sha256: string
  /** Every block of the content: chunks, tree nodes, manifest (base58btc). */
  blocks: Set<string>
}

async function expected (segments: Segment[], chunksPerBlock: number): Promise<Expected> {
  const hasher = new ContentHasher()
  const builder = new ManifestBuilder(chunksPerBlock)
  const blocks = new Set<string>()
  for await (const chunk of chunkContent(contentStream(segments))) {
    hasher.update(chunk.bytes)
    blocks.add(cidToString(chunk.cid))
    const node = builder.add(chunk.cid)
    if (node != null) {
      blocks.add(cidToString(node.cid))
    }
  }
  const sha256 = hasher.digest()
  const { node, root } = builder.finish(sha256, hasher.size)
  if (node != null) {
    blocks.add(cidToString(node.cid))
  }
  blocks.add(cidToString(root.cid))
  const hex = Buffer.from(sha256).toString('hex')
  expect(hex).toBe(await contentSha256(segments))
  return { cid: cidToString(root.cid), size: hasher.size, sha256: hex, blocks }
}

// ---------------------------------------------------------------------------
// Checking a store

/** Every stored block, each read and checked against its CID; the counters checked against the recount. */
async function verifiedBlocks (storage: StorageProvider, checkStats: boolean): Promise<Set<string>> {
  const stored = new Set<string>()
  const corrupt: string[] = []
  let bytes = 0
  for await (const cid of storage.list()) {
    const key = cidToString(cid)
    const value = await storage.get(cid)
    if (value == null) {
      corrupt.push(`${key}: listed but get() returns nothing`)
      continue
    }
    if (!blockMatchesCid(cid, value)) {
      corrupt.push(`${key}: ${value.byteLength} bytes that do not match the CID`)
    }
    stored.add(key)
    bytes += value.byteLength
  }
  expect(corrupt, 'blocks whose bytes do not match their CID').toEqual([])
  if (checkStats) {
    expect(await storage.stats(), 'stats() counters against a recount with list() + get()').toEqual({ blocks: stored.size, bytes })
  }
  return stored
}

interface Snapshot { stored: Set<string>, pins: Pin[] }

/** Opens the bare LevelDB store (no node, so no fetch resumes) and reads what the killed child left. */
async function snapshot (dir: string): Promise<Snapshot> {
  const storage = createStorage(dir)
  await storage.open()
  try {
    const stored = await verifiedBlocks(storage, true)
    const pins: Pin[] = []
    for await (const { manifest: _manifest, ...pin } of new PinIndex(recordStore(storage, PINS_TABLE)).list()) {
      pins.push(pin)
    }
    return { stored, pins }
  } finally {
    await storage.close()
  }
}

function difference (a: Set<string>, b: Set<string>): string[] {
  return [...a].filter(x => !b.has(x))
}

function sorted (values: Iterable<string>): string[] {
  return [...values].sort()
}

async function sha256Of (dds: Dds, cid: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const part of dds.retrieve(cid)) {
    hash.update(part)
  }
  return hash.digest('hex')
}

const sleep = async (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))

// ---------------------------------------------------------------------------

describe('crash safety: SIGKILL a LevelDB node mid replica fetch, reopen, verify', () => {
  const children: ChildRun[] = []
  const nodes: Dds[] = []
  const dirs: string[] = []
  let publisher: Dds
  let content: Expected
  let publisherAddr: string

  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'dist/index.js'))) {
      throw new Error('dist/index.js is missing: run `npm run build` first (`npm test` does). The crash tests run a child process that imports the built package, since plain node cannot load the .ts sources.')
    }
    content = await expected(CONTENT, CHUNKS_PER_BLOCK)
    publisher = await Dds.create({ replication: { factor: 1 }, announce: 'manifest', manifestChunksPerBlock: CHUNKS_PER_BLOCK })
    const cid = await publisher.publish(contentStream(CONTENT))
    expect(cid).toBe(content.cid)
    publisherAddr = publisher.getMultiaddrs()[0]!
  })

  afterAll(async () => {
    await publisher?.stop()
  })

  afterEach(async () => {
    await Promise.all(children.splice(0).map(async c => c.kill()))
    await Promise.all(nodes.splice(0).map(async n => n.stop().catch(() => {})))
    await Promise.all(dirs.splice(0).map(async d => rm(d, { recursive: true, force: true })))
  })

  async function tempDir (): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'dds-crash-replica-'))
    dirs.push(dir)
    return dir
  }

  async function startChild (dir: string): Promise<{ child: ChildRun, ready: Line }> {
    const child = new ChildRun(dir, publisherAddr)
    children.push(child)
    const ready = await child.waitFor('the child node to start', l => l.tag === 'ready')
    return { child, ready }
  }

  /** Kills the child once its store holds at least `atBlocks` blocks; checks it died mid-fetch. */
  async function killAt (child: ChildRun, atBlocks: number): Promise<number> {
    const total = content.blocks.size
    await child.waitFor(`the child to hold ${atBlocks} blocks`, l => l.tag === 'blocks' && l.detail.blocks >= atBlocks)
    const exit = await child.kill()
    expect(exit.signal, `the child should die of SIGKILL; stderr:\n${child.stderr}`).toBe('SIGKILL')
    const reported = child.blocks
    expect(reported, `the fetch finished before the kill (${reported} of ${total} blocks); the kill point is too late`).toBeLessThan(total)
    expect(child.sawComplete(content.cid), 'the child reported the replica complete before the kill').toBe(false)
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
    const dds = await Dds.create({ storage: dir, bootstrap: [publisherAddr], replication: REPLICATION, announce: 'none' })
    nodes.push(dds)
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
    // wait for the resumed fetch to finish
    const deadline = Date.now() + WAIT_MS
    let done: Pin | undefined
    while (Date.now() < deadline) {
      const pins = await dds.pins()
      const pin = pins.find(p => p.cid === content.cid)
      expect(pin, 'the replica pin vanished: the resumed fetch failed though the publisher is online').toBeDefined()
      if (pin!.state === 'complete') {
        done = pin
        break
      }
      await sleep(50)
    }
    expect(done, `the resumed fetch did not complete within ${WAIT_MS} ms (${(await dds.storage.stats()).blocks} of ${content.blocks.size} blocks)`).toBeDefined()
    const ms = Date.now() - started
    expect(done).toMatchObject({ cid: content.cid, kind: 'replica', state: 'complete', size: content.size, for: publisher.peerId })
    expect(await dds.replicas()).toEqual([done])
    // the store: exactly the content's blocks, every one verified, counters right
    const stored = await verifiedBlocks(dds.storage, true)
    expect(difference(content.blocks, stored), 'blocks of the complete replica missing from the store').toEqual([])
    expect(sorted(stored)).toEqual(sorted(content.blocks))
    const gc = await dds.gc()
    expect(gc.blocksRemoved, 'a gc after the resume removes nothing: every block belongs to the replica').toBe(0)
    await dds.stop()
    nodes.splice(nodes.indexOf(dds), 1)
    return { first, done: done!, ms }
  }

  /** Restarts the node with no peers at all and reads the content from its own store. */
  async function retrieveOffline (dir: string): Promise<void> {
    const dds = await Dds.create({ storage: dir, replication: REPLICATION, announce: 'none' })
    nodes.push(dds)
    expect(dds.libp2p.getPeers(), 'the offline node has no peer to fetch from').toEqual([])
    const pins = await dds.pins()
    expect(pins.map(p => ({ cid: p.cid, kind: p.kind, state: p.state }))).toEqual([{ cid: content.cid, kind: 'replica', state: 'complete' }])
    expect(await sha256Of(dds, content.cid)).toBe(content.sha256)
    expect(sorted(await verifiedBlocks(dds.storage, true))).toEqual(sorted(content.blocks))
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
