import { describe, expect, it } from 'vitest'
import { CHUNK_SIZE, chunkContent, memoryStorage, type Block, type StorageProvider } from '../../src/index.js'
import { BatchWriter, WRITE_BATCH_BLOCKS } from '../../src/storage/index.js'
import { pseudoRandomBytes } from '../utils/content.js'

/** A real memory store that also keeps the size of every batch it was given. */
function recording (storage: StorageProvider): { store: Pick<StorageProvider, 'putMany'>, batches: number[] } {
  const batches: number[] = []
  return {
    batches,
    store: {
      putMany: async (blocks, options) => {
        const list = [...blocks]
        batches.push(list.length)
        await storage.putMany(list, options)
      }
    }
  }
}

async function blocksOf (chunks: number): Promise<Block[]> {
  const blocks: Block[] = []
  for await (const chunk of chunkContent(pseudoRandomBytes(chunks * CHUNK_SIZE, chunks))) {
    blocks.push({ cid: chunk.cid, bytes: chunk.bytes })
  }
  return blocks
}

describe('BatchWriter', () => {
  it('writes full batches as they fill and the rest, with the last blocks, in one batch at flush', async () => {
    const storage = memoryStorage()
    await storage.open()
    const { store, batches } = recording(storage)
    const blocks = await blocksOf(2 * WRITE_BATCH_BLOCKS + 3)
    const last = blocks.pop()!
    const writer = new BatchWriter(store)
    for (const block of blocks) {
      await writer.add(block.cid, block.bytes)
    }
    await writer.flush(last)
    expect(batches).toEqual([WRITE_BATCH_BLOCKS, WRITE_BATCH_BLOCKS, 3])
    for (const block of [...blocks, last]) {
      expect(await storage.has(block.cid)).toBe(true)
    }
    await storage.close()
  })

  it('reports a failed write at the next add or at flush, never as an unhandled rejection', async () => {
    const storage = memoryStorage()
    await storage.open()
    await storage.close() // every write now fails with StorageError
    const blocks = await blocksOf(WRITE_BATCH_BLOCKS + 1)
    const writer = new BatchWriter(storage)
    const adding = async (): Promise<void> => {
      for (const block of blocks) {
        await writer.add(block.cid, block.bytes)
      }
      await writer.flush()
    }
    await expect(adding()).rejects.toMatchObject({ name: 'StorageError' })
    await writer.settle()
  })
})
