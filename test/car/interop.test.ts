/**
 * A CAR that DDS exports, read by IPFS tools: Helia imports it into its
 * blockstore (`@helia/car`, streaming through @ipld/car's block iterator),
 * the chunks it holds then are byte for byte the raw leaves
 * ipfs-unixfs-importer makes of the same content (256 KiB chunks, raw
 * leaves, CIDv1), and Helia's UnixFS reads the whole file back from them
 * with nothing but the importer's one dag-pb root block added.
 */
import { Readable } from 'node:stream'
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { CarBlockIterator } from '@ipld/car'
import { car as heliaCar } from '@helia/car'
import { unixfs } from '@helia/unixfs'
import * as dagPb from '@ipld/dag-pb'
import { createHeliaLight, type Helia } from 'helia'
import { importer } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { parseCid, type CID, type Dds } from '../../src/index.js'
import { Cluster } from '../utils/cluster.js'
import { CHUNK_SIZE, chunkOf, collect, concat, equalBytes, pseudoRandomBytes } from '../utils/content.js'

/** Seven full chunks and a short eighth. */
const SIZE = 7 * CHUNK_SIZE + 1001

describe('a DDS CAR in Helia', () => {
  const cluster = new Cluster()
  const data = pseudoRandomBytes(SIZE, 31)
  let node: Dds
  let helia: Helia
  let cid: string

  beforeAll(async () => {
    node = await cluster.node({ storage: await cluster.dir() })
    cid = await node.publish(data)
    helia = createHeliaLight()
    await helia.start()
  })
  afterAll(async () => {
    await helia.stop()
    await cluster.stop()
  })

  it('imports into a Helia blockstore, whose raw leaves are the UnixFS importer\'s, and Helia reads the file back identical', async () => {
    // @helia/car imports the CAR as it streams out of DDS
    const blocks = await CarBlockIterator.fromIterable(Readable.from(node.exportCar(cid)))
    expect((await blocks.getRoots()).map(String)).toEqual([parseCid(cid).toString()])
    await heliaCar(helia).import({ blocks: async function * () { yield * blocks } })

    // the same content through ipfs-unixfs-importer, into a blockstore of its own
    const own = createHeliaLight()
    let root: CID | undefined
    for await (const entry of importer([{ content: data }], own.blockstore, {
      chunker: fixedSize({ chunkSize: CHUNK_SIZE }),
      rawLeaves: true,
      cidVersion: 1,
      reduceSingleLeafToSelf: true
    })) {
      root = entry.cid
    }
    const rootBytes = await bytesOf(own.blockstore.get(root!))
    const leaves = dagPb.decode(rootBytes).Links.map(link => link.Hash)
    expect(leaves).toHaveLength(8)

    // every raw leaf is in Helia's blockstore, from the DDS CAR, byte for byte
    for (const [i, leaf] of leaves.entries()) {
      expect(await helia.blockstore.has(leaf)).toBe(true)
      const bytes = await bytesOf(helia.blockstore.get(leaf))
      expect(equalBytes(bytes, chunkOf(data, i))).toBe(true)
    }

    // with only the importer's dag-pb root added, Helia's UnixFS reads the whole file
    await helia.blockstore.put(root!, rootBytes)
    const read = await collect(unixfs(helia).cat(root!, { offline: true }))
    expect(equalBytes(read, data)).toBe(true)
  })
})

/** The bytes of a block as a blockstore gives them (in pieces, from a sync or an async iterable). */
async function bytesOf (pieces: Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const piece of pieces) {
    parts.push(piece)
  }
  return concat(parts)
}
