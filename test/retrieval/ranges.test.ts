/** Byte ranges: only the chunks covering the range are fetched, and exactly its bytes come out. */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { recorder, errorOf } from './helpers.js'
import type { Dds } from '../../src/index.js'
import { Cluster } from '../utils/cluster.js'
import { CHUNK_SIZE, concat, equalBytes, pseudoRandomBytes } from '../utils/content.js'

describe('retrieve with a byte range', () => {
  const cluster = new Cluster()
  const size = 3 * CHUNK_SIZE + CHUNK_SIZE / 2
  const data = pseudoRandomBytes(size, 31)
  let a: Dds, b: Dds, cid: string

  beforeAll(async () => {
    a = await cluster.node()
    b = await cluster.node({ bootstrap: a.getMultiaddrs() })
    cid = await a.publish(data)
  })
  afterAll(async () => { await cluster.stop() })

  async function range (offset: number, length?: number): Promise<{ bytes: Uint8Array, chunks: number[] }> {
    const progress = recorder()
    const parts: Uint8Array[] = []
    for await (const part of b.retrieve(cid, { offset, length, onProgress: progress.onProgress })) {
      parts.push(part)
    }
    return { bytes: concat(parts), chunks: progress.of('dds:retrieve:chunk').map((d: { index: number }) => d.index) }
  }

  it.each([
    ['the first byte', 0, 1, [0]],
    ['the last byte', size - 1, 1, [3]],
    ['across two chunks', CHUNK_SIZE - 10, 20, [0, 1]],
    ['exactly the second chunk', CHUNK_SIZE, CHUNK_SIZE, [1]],
    ['from an offset to the end', 2 * CHUNK_SIZE + 5, undefined, [2, 3]],
    ['everything', 0, undefined, [0, 1, 2, 3]]
  ])('%s', async (_label, offset, length, chunks) => {
    const got = await range(offset, length)
    const end = length == null ? size : offset + length
    expect(equalBytes(got.bytes, data.subarray(offset, end))).toBe(true)
    expect(got.chunks).toEqual(chunks)
  })

  it('an empty range at the end is empty, not an error', async () => {
    const got = await range(size, 0)
    expect(got.bytes.byteLength).toBe(0)
    expect(got.chunks).toEqual([])
  })

  it.each([
    ['a range past the end', size - 1, 2],
    ['an offset past the end', size + 1, undefined],
    ['a negative offset', -1, 1],
    ['a fractional length', 0, 1.5]
  ])('%s is an InvalidInputError', async (_label, offset, length) => {
    const err = await errorOf(async () => range(offset, length))
    expect(err?.name).toBe('InvalidInputError')
  })
})
