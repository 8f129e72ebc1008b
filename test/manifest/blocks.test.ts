import { describe, expect, it } from 'vitest'
import type { CID } from 'multiformats/cid'
import { CHUNK_SIZE, cidToString, memoryStorage, type StorageProvider } from '../../src/index.js'
import { contentBlocks } from '../../src/manifest/index.js'
import { pseudoRandomBytes } from '../utils/content.js'
import { storeContent } from '../utils/stored-content.js'

async function list (source: AsyncIterable<CID>): Promise<string[]> {
  const out: string[] = []
  for await (const cid of source) {
    out.push(cidToString(cid))
  }
  return out
}

async function opened (): Promise<StorageProvider> {
  const storage = memoryStorage()
  await storage.open()
  return storage
}

describe('contentBlocks', () => {
  it('lists the chunks of a single-block manifest in order, then the manifest', async () => {
    const storage = await opened()
    const stored = await storeContent(storage, pseudoRandomBytes(3 * CHUNK_SIZE + 10))
    const read = async (cid: CID): Promise<Uint8Array | undefined> => storage.get(cid)
    expect(await list(contentBlocks(stored.cid, stored.manifest, read))).toEqual([...stored.chunks, stored.cid].map(cidToString))
  })

  it('lists the chunks of a tree in order, then its nodes, then the manifest', async () => {
    const storage = await opened()
    const stored = await storeContent(storage, pseudoRandomBytes(5 * CHUNK_SIZE), 2)
    expect(stored.nodes).toHaveLength(3)
    const read = async (cid: CID): Promise<Uint8Array | undefined> => storage.get(cid)
    expect(await list(contentBlocks(stored.cid, stored.manifest, read))).toEqual([...stored.chunks, ...stored.nodes, stored.cid].map(cidToString))
  })

  it('with a tree node missing, throws StorageError by default, and with missing: skip lists the node but not its chunks', async () => {
    const storage = await opened()
    const stored = await storeContent(storage, pseudoRandomBytes(5 * CHUNK_SIZE), 2)
    await storage.delete(stored.nodes[1]!)
    const read = async (cid: CID): Promise<Uint8Array | undefined> => storage.get(cid)
    await expect(list(contentBlocks(stored.cid, stored.manifest, read))).rejects.toMatchObject({ name: 'StorageError' })
    const skipped = await list(contentBlocks(stored.cid, stored.manifest, read, { missing: 'skip' }))
    const expected = [stored.chunks[0], stored.chunks[1], stored.chunks[4], ...stored.nodes, stored.cid]
    expect(skipped).toEqual(expected.map(cid => cidToString(cid!)))
  })

  it('lists only the manifest for empty content', async () => {
    const storage = await opened()
    const stored = await storeContent(storage, new Uint8Array(0))
    const read = async (cid: CID): Promise<Uint8Array | undefined> => storage.get(cid)
    expect(await list(contentBlocks(stored.cid, stored.manifest, read))).toEqual([cidToString(stored.cid)])
  })
})
