/**
 * blockstore-fs + datastore-level under a process that is killed (SIGKILL)
 * in the middle of its writes (fixtures/stores-child.mjs): the adapter's
 * counters must still match the blocks, no block may be partial, and a node
 * killed mid-publish must come back with its identity and its pins, its
 * unfinished content left unpinned for gc.
 *
 * The child imports the built package, so dist/ must be current: `npm test`
 * builds first.
 */
import { describe, it, expect, beforeAll, beforeEach, afterEach } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { FsBlockstore } from 'blockstore-fs'
import { LevelDatastore } from 'datastore-level'
import { Key } from 'interface-datastore'
import { CID } from 'multiformats/cid'
import { Dds, blockstoreStorage, blockMatchesCid } from '../../src/index.js'
import { RAW_CODE } from '../../src/cid.js'
import { Children, assertBuilt } from '../utils/child.js'
import { sha256Hex } from '../utils/content.js'
import { fixtureContent } from './fixtures/content.mjs'

const CHILD = fileURLToPath(new URL('./fixtures/stores-child.mjs', import.meta.url))

/** Reads every block of the blockstore, checks it against its multihash, and counts blocks and bytes. */
async function audit (blockstore: FsBlockstore): Promise<{ blocks: number, bytes: number }> {
  const totals = { blocks: 0, bytes: 0 }
  for await (const { cid, bytes } of blockstore.getAll()) {
    const pieces: Uint8Array[] = []
    for await (const piece of bytes) {
      pieces.push(piece)
    }
    const block = new Uint8Array(Buffer.concat(pieces))
    expect(blockMatchesCid(CID.createV1(RAW_CODE, cid.multihash), block), `block ${cid.toString()} is whole`).toBe(true)
    totals.blocks++
    totals.bytes += block.byteLength
  }
  return totals
}

describe('blockstore-fs + datastore-level, killed mid-write', () => {
  const children = new Children()
  let dir: string

  beforeAll(() => { assertBuilt() })

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dds-stores-crash-'))
  })

  afterEach(async () => {
    await children.killAll()
    await rm(dir, { recursive: true, force: true })
  })

  /** Opens the adapter on what a killed child left in `sub`, and checks its counters against the blocks. */
  async function auditAfterKill (sub: string): Promise<{ pending?: { op: string, blocks: unknown[] } }> {
    const blockstore = new FsBlockstore(join(dir, sub, 'blocks'))
    const datastore = new LevelDatastore(join(dir, sub, 'datastore'))
    await datastore.open()
    try {
      const record = JSON.parse(new TextDecoder().decode(await datastore.get(new Key('/dds/storage/stats'))))
      const storage = blockstoreStorage({ blockstore, datastore })
      expect(await storage.stats()).toEqual(await audit(blockstore))
      await storage.close()
      return record
    } finally {
      await datastore.close()
    }
  }

  it('leaves exact counters when killed between writes', async () => {
    for (const after of [4, 19, 33]) {
      const child = children.start(CHILD, ['write', join(dir, 'outside')])
      await child.waitFor(`write ${after}`, line => line.tag === 'wrote' && line.detail.n >= after)
      await child.kill()
      await auditAfterKill('outside')
    }
  })

  it('leaves exact counters when killed inside a write, after the first block of a batch or a delete', async () => {
    // on a fresh directory the 2nd and 6th pending writes are batches, the 4th and 8th deletes
    for (const [k, op] of [[2, 'put'], [4, 'delete'], [6, 'put'], [8, 'delete']] as const) {
      const sub = `inside-${k}`
      const child = children.start(CHILD, ['write', join(dir, sub), String(k)])
      expect((await child.exited).signal).toBe('SIGKILL')
      const record = await auditAfterKill(sub)
      expect(record.pending?.op, `the kill of write ${k} came before the new totals`).toBe(op)
      // and the next writer carries on from the settled counters
      const next = children.start(CHILD, ['write', join(dir, sub)])
      await next.waitFor('a few more writes', line => line.tag === 'wrote' && line.detail.n >= 12)
      await next.kill()
      await auditAfterKill(sub)
    }
  })

  it('brings a node killed mid-publish back with its identity and pins; gc sweeps the unfinished content', async () => {
    const child = children.start(CHILD, ['publish', dir])
    const published = await child.waitFor('the first publish', line => line.tag === 'published')
    // a publish writes batches of 16 chunks, each once the one before is written: at chunk 48, chunks 0-31 are stored
    await child.waitFor('chunks of the second publish', line => line.tag === 'chunk' && line.detail.index >= 48)
    await child.kill()

    const blockstore = new FsBlockstore(join(dir, 'blocks'))
    const datastore = new LevelDatastore(join(dir, 'datastore'))
    const node = await Dds.create({ blockstore, datastore, announce: 'none', replication: { factor: 1 } })
    try {
      expect(node.peerId).toBe(published.detail.peerId)
      expect((await node.pins()).map(pin => [pin.cid, pin.state])).toEqual([[published.detail.cid, 'complete']])
      expect((await node.repoStat()).store).toEqual(await audit(blockstore))
      const result = await node.gc()
      // 1 MiB: 4 chunks and the manifest
      expect(result.blocksKept).toBe(5)
      expect(result.blocksRemoved).toBeGreaterThanOrEqual(32)
      expect((await node.repoStat()).store).toEqual(await audit(blockstore))
      expect(sha256Hex(await node.retrieveBytes(published.detail.cid))).toBe(sha256Hex(fixtureContent(1024 * 1024, 1)))
    } finally {
      await node.stop()
      await datastore.close()
    }
  })
})
