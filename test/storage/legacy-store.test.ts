/**
 * A store directory written by DDS 0.1.0 (fixtures/store-0.1.0/, made by
 * fixtures/make-store-0.1.0.mjs at the 0.1.0 commit; the facts it must hold
 * are in fixtures/store-0.1.0.json) opens with this version through
 * `storage: <dir>`: same peer id, same pins, the same content, and a gc that
 * keeps it all.
 */
import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Dds } from '../../src/index.js'
import { sha256Hex } from '../utils/content.js'
import { fixtureContent } from './fixtures/content.mjs'

const FIXTURE = fileURLToPath(new URL('./fixtures/store-0.1.0/', import.meta.url))
const FACTS = fileURLToPath(new URL('./fixtures/store-0.1.0.json', import.meta.url))

interface Facts {
  version: string
  peerId: string
  published: Array<{ cid: string, name: string, size: number, seed: number, sha256: string }>
  pins: Array<{ cid: string, kind: string, state: string, size: number }>
  store: { blocks: number, bytes: number }
}

describe('a store written by DDS 0.1.0', () => {
  let dir: string
  let facts: Facts
  const nodes: Dds[] = []

  async function open (): Promise<Dds> {
    const node = await Dds.create({ storage: dir, announce: 'none', replication: { factor: 1 } })
    nodes.push(node)
    return node
  }

  beforeEach(async () => {
    // LevelDB writes to the directory it opens: work on a copy
    dir = join(await mkdtemp(join(tmpdir(), 'dds-legacy-')), 'store')
    await cp(FIXTURE, dir, { recursive: true })
    facts = JSON.parse(await readFile(FACTS, 'utf8')) as Facts
  })

  afterEach(async () => {
    await Promise.all(nodes.splice(0).map(async node => { await node.stop() }))
    await rm(join(dir, '..'), { recursive: true, force: true })
  })

  it('opens with its peer id, pins and content, and gc keeps them', async () => {
    expect(facts.version).toBe('0.1.0')
    const node = await open()
    expect(node.peerId).toBe(facts.peerId)
    const pins = (await node.pins()).map(pin => ({ cid: pin.cid, kind: pin.kind, state: pin.state, size: pin.size }))
    expect(pins).toEqual(facts.pins)
    expect((await node.repoStat()).store).toEqual(facts.store)
    for (const content of facts.published) {
      const bytes = await node.retrieveBytes(content.cid)
      expect(sha256Hex(bytes)).toBe(content.sha256)
      expect(sha256Hex(bytes)).toBe(sha256Hex(fixtureContent(content.size, content.seed)))
      expect((await node.stat(content.cid)).name).toBe(content.name)
    }
    expect(await node.gc()).toEqual({ blocksRemoved: 0, bytesRemoved: 0, blocksKept: facts.store.blocks })
  })

  it('keeps working as a store of this version: publish, restart, same node', async () => {
    const node = await open()
    const cid = await node.publish(new TextEncoder().encode('written by this version'))
    await node.stop()
    const again = await open()
    expect(again.peerId).toBe(facts.peerId)
    expect((await again.pins()).map(pin => pin.cid).sort()).toEqual([...facts.pins.map(pin => pin.cid), cid].sort())
    expect(new TextDecoder().decode(await again.retrieveBytes(cid))).toBe('written by this version')
    expect((await again.gc()).blocksRemoved).toBe(0)
  })
})
