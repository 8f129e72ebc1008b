import { describe, it, expect } from 'vitest'
import { CHUNK_SIZE, chunkContent, type Chunk, type ContentInput } from '../../src/chunker/index.js'
import {
  asyncSlices, collect, fileStream, nodeReadable, randomLengths, readableStream, sha256, slices
} from './fixtures/content.js'
import { pseudoRandomBytes } from '../utils/content.js'

const SIZES = [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE, 3 * CHUNK_SIZE + 7]

/** Checks chunks against `content` using only node:crypto and plain slicing. */
function expectChunksOf (chunks: Chunk[], content: Uint8Array): void {
  expect(chunks.length).toBe(Math.ceil(content.byteLength / CHUNK_SIZE))
  chunks.forEach((chunk, i) => {
    const offset = i * CHUNK_SIZE
    const expected = content.subarray(offset, offset + CHUNK_SIZE)
    expect(chunk.index).toBe(i)
    expect(chunk.offset).toBe(offset)
    expect(chunk.bytes.byteLength).toBe(expected.byteLength)
    expect(Buffer.from(chunk.bytes).equals(Buffer.from(expected))).toBe(true)
    expect(chunk.cid.version).toBe(1)
    expect(chunk.cid.code).toBe(0x55)
    expect(chunk.cid.multihash.code).toBe(0x12)
    expect(Buffer.from(chunk.cid.multihash.digest).equals(Buffer.from(sha256(expected)))).toBe(true)
  })
}

function cidStrings (chunks: Chunk[]): string[] {
  return chunks.map((c) => c.cid.toString())
}

describe('chunkContent', () => {
  describe.each(SIZES)('content of %i bytes', (size) => {
    const content = pseudoRandomBytes(size, size + 1)

    it('chunks one Uint8Array into 262144-byte chunks with a short last one', async () => {
      expectChunksOf(await collect(chunkContent(content)), content)
    })

    it('gives identical chunks for every shape and slicing of the same input', async () => {
      const reference = cidStrings(await collect(chunkContent(content)))
      const random = slices(content, randomLengths(size + 7, 100_000))
      const file = await fileStream(content)
      const inputs: Array<[string, ContentInput]> = [
        ['async iterable of random slices', asyncSlices(random)],
        ['sync iterable (array) of random slices', random],
        ['ReadableStream of random slices', readableStream(random)],
        ['Node Readable of random slices', nodeReadable(random)],
        ['Node file read stream', file.stream],
        ['one slice per chunk boundary crossing', slices(content, () => CHUNK_SIZE + 3)],
        ['slices of 1 to 7 bytes', size <= CHUNK_SIZE + 1 ? slices(content, (i) => (i % 7) + 1) : [content]]
      ]
      try {
        for (const [name, input] of inputs) {
          const chunks = await collect(chunkContent(input))
          expect(cidStrings(chunks), name).toEqual(reference)
          expectChunksOf(chunks, content)
        }
      } finally {
        await file.cleanup()
      }
    })
  })

  it('gives the same chunks when the input comes one byte at a time', async () => {
    const content = pseudoRandomBytes(CHUNK_SIZE + 300, 99)
    const chunks = await collect(chunkContent(asyncSlices(slices(content, () => 1))))
    expectChunksOf(chunks, content)
  })

  it('skips empty slices anywhere in the input', async () => {
    const content = pseudoRandomBytes(2 * CHUNK_SIZE + 5, 3)
    const empty = new Uint8Array(0)
    const parts = [empty, content.subarray(0, 1), empty, empty, content.subarray(1, CHUNK_SIZE), empty,
      content.subarray(CHUNK_SIZE), empty]
    expectChunksOf(await collect(chunkContent(parts)), content)
    expect(await collect(chunkContent([empty, empty]))).toEqual([])
    expect(await collect(chunkContent(new Uint8Array(0)))).toEqual([])
  })

  it('gives every chunk its own memory, even when the input holds whole aligned chunks', async () => {
    const content = pseudoRandomBytes(2 * CHUNK_SIZE + 10, 5)
    const chunks = await collect(chunkContent(content))
    for (const chunk of chunks) {
      expect(chunk.bytes.buffer).not.toBe(content.buffer)
    }
    // The short last chunk gets exact-size memory.
    expect(chunks[2]?.bytes.buffer.byteLength).toBe(10)
  })

  it('keeps chunks intact when a source reuses a buffer larger than a chunk', async () => {
    const content = pseudoRandomBytes(3 * 1024 * 1024, 12)
    const scratch = new Uint8Array(1024 * 1024)
    async function * reusing (): AsyncGenerator<Uint8Array> {
      for (let pos = 0; pos < content.byteLength; pos += scratch.byteLength) {
        scratch.set(content.subarray(pos, pos + scratch.byteLength))
        yield scratch
      }
      scratch.fill(0xff)
    }
    // hold every chunk until the end, as a batching consumer does
    const chunks = await collect(chunkContent(reusing()))
    expectChunksOf(chunks, content)
  })

  it('never overwrites a chunk already handed out, even when input buffers are reused', async () => {
    const content = pseudoRandomBytes(3 * CHUNK_SIZE + 1, 8)
    const scratch = new Uint8Array(50_000)
    async function * reusing (): AsyncGenerator<Uint8Array> {
      for (let pos = 0; pos < content.byteLength; pos += scratch.byteLength) {
        const part = content.subarray(pos, pos + scratch.byteLength)
        scratch.set(part)
        yield scratch.subarray(0, part.byteLength)
      }
      scratch.fill(0xff)
    }
    expectChunksOf(await collect(chunkContent(reusing())), content)
  })

  it('streams: the first chunk comes out before the input is read to the end', async () => {
    let produced = 0
    async function * lazy (): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 64; i++) {
        produced++
        yield new Uint8Array(CHUNK_SIZE / 4).fill(i)
      }
    }
    const iterator = chunkContent(lazy())
    const first = await iterator.next()
    expect(first.done).toBe(false)
    expect(produced).toBe(4)
    await iterator.return(undefined)
  })

  it('releases the input when the consumer stops early', async () => {
    let released = false
    async function * source (): AsyncGenerator<Uint8Array> {
      try {
        for (let i = 0; i < 10; i++) {
          yield new Uint8Array(CHUNK_SIZE)
        }
      } finally {
        released = true
      }
    }
    for await (const chunk of chunkContent(source())) {
      expect(chunk.index).toBe(0)
      break
    }
    expect(released).toBe(true)
  })

  it('cancels a ReadableStream when the consumer stops early', async () => {
    let cancelled = false
    const stream = new ReadableStream<Uint8Array>({
      pull (controller) { controller.enqueue(new Uint8Array(CHUNK_SIZE)) },
      cancel () { cancelled = true }
    })
    for await (const chunk of chunkContent(stream)) {
      expect(chunk.index).toBe(0)
      break
    }
    expect(cancelled).toBe(true)
  })
})
