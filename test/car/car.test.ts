/**
 * CAR export and import on real nodes with LevelDB stores: the round trip
 * into a fresh node, the CAR's layout read back with @ipld/car, manifest
 * trees and repeated chunks, and every way an import must fail without
 * pinning anything (a damaged block, a missing chunk, a cut-short file, a
 * file that is not a CAR of DDS content).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { CarReader } from '@ipld/car'
import { varint } from 'multiformats'
import { CID } from 'multiformats/cid'
import * as dagPb from '@ipld/dag-pb'
import { sha256 } from 'multiformats/hashes/sha2'
import { blockMatchesCid, cidToString, parseCid, type Dds } from '../../src/index.js'
import { Cluster } from '../utils/cluster.js'
import { CHUNK_SIZE, chunkCid, chunkCount, collect, concat, equalBytes, pseudoRandomBytes, sliced } from '../utils/content.js'
import { carSections, writeCar } from './helpers.js'

/** Four full chunks and a short fifth. */
const SIZE = 4 * CHUNK_SIZE + 4321

describe('CAR export and import', () => {
  const cluster = new Cluster()
  const data = pseudoRandomBytes(SIZE, 21)
  let source: Dds
  let cid: string
  let car: Uint8Array

  beforeAll(async () => {
    source = await cluster.node({ storage: await cluster.dir() })
    cid = await source.publish(data, { name: 'data.bin', metadata: { title: 'Data' } })
    car = await collect(source.exportCar(cid))
  })
  afterAll(async () => { await cluster.stop() })

  /** A fresh node with a LevelDB store, connected to nobody. */
  async function fresh (): Promise<Dds> {
    return cluster.node({ storage: await cluster.dir() })
  }

  it('writes a CARv1 rooted at the content CID: the manifest, then every chunk in order, each matching its CID', async () => {
    const reader = await CarReader.fromBytes(car)
    expect(reader.version).toBe(1)
    expect((await reader.getRoots()).map(root => root.toString())).toEqual([parseCid(cid).toString()])
    const blocks = []
    for await (const block of reader.blocks()) {
      expect(blockMatchesCid(parseCid(block.cid), block.bytes)).toBe(true)
      blocks.push(block)
    }
    expect(blocks.map(b => b.cid.toString())).toEqual([
      parseCid(cid).toString(),
      ...Array.from({ length: chunkCount(data) }, (_, i) => chunkCid(data, i).toString())
    ])
    expect(concat(blocks.slice(1).map(b => b.bytes))).toEqual(data)
  })

  it('round-trips: a fresh node imports the CAR, pins the content and serves identical bytes without any peer', async () => {
    const target = await fresh()
    expect(await target.importCar(car)).toEqual([cid])
    const pins = await target.pins()
    expect(pins).toHaveLength(1)
    expect(pins[0]).toMatchObject({ cid, kind: 'local', state: 'complete', size: SIZE, name: 'data.bin' })
    expect(target.peers()).toHaveLength(0)
    expect(equalBytes(await target.retrieveBytes(cid), data)).toBe(true)
    expect((await target.stat(cid)).local).toBe(true)
    // what it imported survives gc: it is pinned
    await target.gc()
    expect(equalBytes(await target.retrieveBytes(cid), data)).toBe(true)
    // and exports the same CAR, byte for byte
    expect(equalBytes(await collect(target.exportCar(cid)), car)).toBe(true)
  })

  it('imports a CAR that streams in, in slices of any size, and reports progress', async () => {
    const target = await fresh()
    const events: string[] = []
    let blocks = 0
    const roots = await target.importCar(sliced(car, [1, 7, 100, 65536, 3]), {
      onProgress: (evt) => {
        events.push(evt.type)
        if (evt.type === 'dds:import:block') {
          blocks = (evt.detail as { blocks: number }).blocks
        }
      }
    })
    expect(roots).toEqual([cid])
    expect(blocks).toBe(1 + chunkCount(data))
    expect(events).toContain('dds:import:stored')
    expect(equalBytes(await target.retrieveBytes(cid), data)).toBe(true)
  })

  it('exports a manifest tree depth first: each node before the chunks it lists, and imports it back', async () => {
    const tree = await cluster.node({ storage: await cluster.dir(), manifestChunksPerBlock: 2 })
    const treeCid = await tree.publish(data)
    const treeCar = await collect(tree.exportCar(treeCid))
    const sections = await carSections(treeCar)
    const manifest = await tree.storage.get(parseCid(treeCid))
    expect(sections[0]!.cid.toString()).toBe(parseCid(treeCid).toString())
    expect(equalBytes(sections[0]!.bytes, manifest!)).toBe(true)
    // root, then node 0 with chunks 0-1, node 1 with chunks 2-3, node 2 with chunk 4
    const chunks = Array.from({ length: chunkCount(data) }, (_, i) => chunkCid(data, i).toString())
    const kinds = sections.slice(1).map(s => chunks.includes(s.cid.toString()) ? `c${chunks.indexOf(s.cid.toString())}` : 'node')
    expect(kinds).toEqual(['node', 'c0', 'c1', 'node', 'c2', 'c3', 'node', 'c4'])
    const target = await fresh()
    expect(await target.importCar(treeCar)).toEqual([treeCid])
    expect(equalBytes(await target.retrieveBytes(treeCid), data)).toBe(true)
  })

  it('writes a repeated chunk once, or every time with duplicates: true', async () => {
    const zeros = new Uint8Array(3 * CHUNK_SIZE + 10)
    const zerosCid = await source.publish(zeros)
    const once = await carSections(await collect(source.exportCar(zerosCid)))
    expect(once).toHaveLength(1 + 2) // the manifest, the zero chunk, the short last chunk
    const every = await carSections(await collect(source.exportCar(zerosCid, { duplicates: true })))
    expect(every).toHaveLength(1 + 4)
    for (const sections of [once, every]) {
      const target = await fresh()
      expect(await target.importCar(writeCar([parseCid(zerosCid)], sections))).toEqual([zerosCid])
      expect(equalBytes(await target.retrieveBytes(zerosCid), zeros)).toBe(true)
    }
  })

  it('exports empty content as its manifest alone', async () => {
    const emptyCid = await source.publish(new Uint8Array(0))
    const sections = await carSections(await collect(source.exportCar(emptyCid)))
    expect(sections.map(s => s.cid.toString())).toEqual([parseCid(emptyCid).toString()])
    const target = await fresh()
    expect(await target.importCar(writeCar([parseCid(emptyCid)], sections))).toEqual([emptyCid])
    expect(await target.retrieveBytes(emptyCid)).toHaveLength(0)
  })

  it("exports one block with scope 'block', and refuses a chunk's CID as content otherwise", async () => {
    const chunk = chunkCid(data, 2)
    const sections = await carSections(await collect(source.exportCar(chunk, { scope: 'block' })))
    expect(sections).toHaveLength(1)
    expect(sections[0]!.cid.toString()).toBe(chunk.toString())
    expect(equalBytes(sections[0]!.bytes, data.subarray(2 * CHUNK_SIZE, 3 * CHUNK_SIZE))).toBe(true)
    await expect(collect(source.exportCar(chunk))).rejects.toMatchObject({ name: 'InvalidInputError', message: expect.stringMatching(/not a DDS manifest/) })
  })

  it('refuses a bad CID at once, before anything is iterated', () => {
    expect(() => source.exportCar('not-a-cid')).toThrow(expect.objectContaining({ name: 'InvalidInputError' }))
  })

  it('fails with NotFoundError, before writing a byte, for content it does not hold whole', async () => {
    const other = await fresh()
    await expect(collect(other.exportCar(cid))).rejects.toMatchObject({ name: 'NotFoundError', message: expect.stringMatching(/not in this node's store.*pin/) })
    // the manifest and all chunks but one
    await other.importCar(car)
    await other.unpin(cid)
    await other.storage.delete(chunkCid(data, 3))
    const written: Uint8Array[] = []
    const attempt = (async () => { for await (const piece of other.exportCar(cid)) { written.push(piece) } })()
    await expect(attempt).rejects.toMatchObject({ name: 'NotFoundError', message: expect.stringMatching(/chunk 3 of 5 .* is missing/) })
    expect(written).toHaveLength(0)
  })

  it('refuses to export a block its store holds damaged, unless verify: false, and the CAR it then writes is refused on import', async () => {
    const damagedStore = await fresh()
    await damagedStore.importCar(car)
    const chunk = chunkCid(data, 1)
    const bytes = (await damagedStore.storage.get(chunk))!
    await damagedStore.storage.delete(chunk)
    await damagedStore.storage.put(chunk, bytes.map(b => b ^ 0x5a))
    await expect(collect(damagedStore.exportCar(cid))).rejects.toMatchObject({ name: 'IntegrityError', message: expect.stringMatching(/chunk 1 of 5 .* does not match its CID/) })
    const unchecked = await collect(damagedStore.exportCar(cid, { verify: false }))
    expect(unchecked.byteLength).toBe(car.byteLength)
    const target = await fresh()
    await expect(target.importCar(unchecked)).rejects.toMatchObject({ name: 'IntegrityError' })
    expect(await target.pins()).toEqual([])
  })

  it('fails with IntegrityError on a block whose bytes do not match its CID, and pins nothing', async () => {
    const sections = await carSections(car)
    const damaged = sections.map((s, i) => i === 3 ? { cid: s.cid, bytes: s.bytes.map((b, j) => j === 100 ? b ^ 1 : b) } : s)
    const target = await fresh()
    await expect(target.importCar(writeCar([parseCid(cid)], damaged))).rejects.toMatchObject({ name: 'IntegrityError', message: expect.stringMatching(/does not match its CID/) })
    expect(await target.pins()).toEqual([])
    expect(await target.has(sections[3]!.cid)).toBe(false)
    // whatever was written before it is unpinned: gc removes it
    await target.gc()
    expect((await target.storage.stats()).blocks).toBe(0)
  })

  it('fails when a chunk is missing, pins nothing, and succeeds once the node holds that chunk', async () => {
    const sections = await carSections(car)
    const missing = sections.filter((_, i) => i !== 2)
    const target = await fresh()
    await expect(target.importCar(writeCar([parseCid(cid)], missing))).rejects.toMatchObject({
      name: 'InvalidInputError',
      message: expect.stringContaining(`block ${cidToString(sections[2]!.cid)} is neither in it nor in this node's store`)
    })
    expect(await target.pins()).toEqual([])
    // a block the node held before counts
    await target.storage.put(sections[2]!.cid, sections[2]!.bytes)
    expect(await target.importCar(writeCar([parseCid(cid)], missing))).toEqual([cid])
    expect(equalBytes(await target.retrieveBytes(cid), data)).toBe(true)
  })

  it('fails when the manifest a root names is missing', async () => {
    const sections = await carSections(car)
    const target = await fresh()
    await expect(target.importCar(writeCar([parseCid(cid)], sections.slice(1)))).rejects.toMatchObject({ name: 'InvalidInputError', message: expect.stringMatching(/holds no block of that CID/) })
    expect(await target.pins()).toEqual([])
  })

  it.each([
    ['inside the header', (_header: number) => 20],
    ['inside a section length', (header: number) => header + 1],
    ['inside a CID', (header: number) => header + 5],
    ['inside a block', (_header: number) => car.byteLength - 1000],
    ['one byte short', (_header: number) => car.byteLength - 1]
  ])('fails cleanly on a CAR cut short %s, pinning nothing', async (_label, at) => {
    const cut = at(carHeaderLength(car))
    for (const input of [car.subarray(0, cut), sliced(car.subarray(0, cut), [4096])]) {
      const target = await fresh()
      await expect(target.importCar(input)).rejects.toMatchObject({ name: 'InvalidInputError', message: expect.stringMatching(/cut short|not a valid CAR/) })
      expect(await target.pins()).toEqual([])
    }
  })

  it('refuses data that is not a CAR', async () => {
    const target = await fresh()
    await expect(target.importCar(pseudoRandomBytes(5000, 3))).rejects.toMatchObject({ name: 'InvalidInputError' })
    await expect(target.importCar(new Uint8Array(0))).rejects.toMatchObject({ name: 'InvalidInputError' })
    await expect(target.importCar('car' as unknown as Uint8Array)).rejects.toMatchObject({ name: 'InvalidInputError' })
  })

  it('refuses a root that is not a manifest, and a CAR with no root', async () => {
    const chunk = chunkCid(data, 0)
    const target = await fresh()
    const chunkCar = await collect(source.exportCar(chunk, { scope: 'block' }))
    await expect(target.importCar(chunkCar)).rejects.toMatchObject({ name: 'InvalidInputError', message: expect.stringMatching(/root .* is not a DDS manifest/) })
    await expect(target.importCar(writeCar([], await carSections(car)))).rejects.toMatchObject({ name: 'InvalidInputError', message: expect.stringMatching(/names no root/) })
    expect(await target.pins()).toEqual([])
  })

  it('refuses a block that is not a DDS block (a UnixFS dag-pb node)', async () => {
    const node = dagPb.encode({ Links: [], Data: new Uint8Array([8, 2]) })
    const pbCid = CID.createV1(dagPb.code, await sha256.digest(node))
    const sections = [...await carSections(car), { cid: pbCid, bytes: node }]
    const target = await fresh()
    await expect(target.importCar(writeCar([parseCid(cid)], sections))).rejects.toMatchObject({ name: 'InvalidInputError', message: expect.stringMatching(/not a DDS block/) })
    expect(await target.pins()).toEqual([])
  })

  it('refuses a section that declares more bytes than a DDS block has, before buffering it', async () => {
    const header = car.subarray(0, carHeaderLength(car))
    const huge = varint.encodeTo(2 ** 31, new Uint8Array(varint.encodingLength(2 ** 31)))
    let pulled = 0
    async function * stream (): AsyncGenerator<Uint8Array> {
      yield header
      yield concat([huge, parseCid(cid).bytes])
      // an endless body: an import that buffered the section would never end
      for (;;) {
        pulled++
        yield new Uint8Array(65536)
      }
    }
    const target = await fresh()
    await expect(target.importCar(stream())).rejects.toMatchObject({ name: 'InvalidInputError', message: expect.stringMatching(/at most \d+ bytes/) })
    expect(pulled).toBeLessThan(4)
  })

  it('imports a CAR with several roots, pinning each', async () => {
    const second = pseudoRandomBytes(CHUNK_SIZE + 9, 22)
    const secondCid = await source.publish(second)
    const sections = [...await carSections(car), ...await carSections(await collect(source.exportCar(secondCid)))]
    const target = await fresh()
    const roots = await target.importCar(writeCar([parseCid(cid), parseCid(secondCid)], sections))
    expect(roots).toEqual([cid, secondCid])
    expect((await target.pins()).map(p => p.cid).sort()).toEqual([cid, secondCid].sort())
    expect(equalBytes(await target.retrieveBytes(secondCid), second)).toBe(true)
  })
})

describe('an imported CAR on a network', () => {
  const cluster = new Cluster()
  afterAll(async () => { await cluster.stop() })

  it('is announced as a publish is: a peer that never saw the CAR retrieves the content', async () => {
    const data = pseudoRandomBytes(2 * CHUNK_SIZE + 77, 23)
    const origin = await cluster.node()
    const cid = await origin.publish(data)
    const car = await collect(origin.exportCar(cid))
    await cluster.stopNode(origin)
    const [importer, reader] = await cluster.network(2)
    const announced: number[] = []
    await importer!.importCar(car, { onProgress: (evt) => { if (evt.type === 'dds:import:announced') announced.push((evt.detail as { peers: number }).peers) } })
    expect(announced).toHaveLength(1)
    expect(equalBytes(await reader!.retrieveBytes(cid), data)).toBe(true)
  })
})

/** Bytes of the header of a CARv1 (its varint length and the header itself). */
function carHeaderLength (car: Uint8Array): number {
  const [length, bytes] = varint.decode(car)
  return length + bytes
}
