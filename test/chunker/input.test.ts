import { describe, it, expect } from 'vitest'
import { chunkContent, toAsyncIterable, type ContentInput } from '../../src/chunker/index.js'
import { collect } from './fixtures/content.js'

const invalid = { name: 'InvalidInputError' }

describe('toAsyncIterable', () => {
  it.each([
    ['a string', 'hello'],
    ['a number', 42],
    ['null', null],
    ['undefined', undefined],
    ['a boolean', true],
    ['a plain object', { length: 3 }],
    ['an ArrayBuffer', new ArrayBuffer(8)],
    ['a DataView', new DataView(new ArrayBuffer(8))]
  ])('rejects %s with InvalidInputError at once', (_name, value) => {
    expect(() => toAsyncIterable(value as unknown as ContentInput)).toThrowError(expect.objectContaining(invalid))
  })

  it('says how to fix a string input', () => {
    expect(() => toAsyncIterable('text' as unknown as ContentInput)).toThrowError(/TextEncoder/)
  })

  it('passes Uint8Array, Buffer and iterables through as slices', async () => {
    const bytes = new Uint8Array([1, 2, 3])
    expect(await collect(toAsyncIterable(bytes))).toEqual([bytes])
    expect((await collect(toAsyncIterable([Buffer.from([4]), bytes]))).length).toBe(2)
  })

  it.each([
    ['a string', ['abc']],
    ['a number', [new Uint8Array(1), 7]],
    ['null', [null]],
    ['an ArrayBuffer', [new ArrayBuffer(4)]],
    ['an array of numbers', [[1, 2, 3]]]
  ])('rejects a sync iterable holding %s with InvalidInputError', async (_name, items) => {
    await expect(collect(chunkContent(items as unknown as Iterable<Uint8Array>))).rejects.toMatchObject(invalid)
  })

  it('rejects a bad slice in an async iterable and releases the source', async () => {
    let released = false
    async function * source (): AsyncGenerator<unknown> {
      try {
        yield new Uint8Array(10)
        yield 'not bytes'
        yield new Uint8Array(10)
      } finally {
        released = true
      }
    }
    await expect(collect(chunkContent(source() as AsyncIterable<Uint8Array>))).rejects.toThrowError(/content slice 1 is a string/)
    expect(released).toBe(true)
  })

  it('rejects a ReadableStream of strings', async () => {
    const stream = new ReadableStream<string>({
      start (c) { c.enqueue('abc'); c.close() }
    })
    await expect(collect(chunkContent(stream as unknown as ReadableStream<Uint8Array>))).rejects.toMatchObject(invalid)
  })

  it('rejects bad input from chunkContent on the first read', async () => {
    await expect(chunkContent(42 as unknown as ContentInput).next()).rejects.toMatchObject(invalid)
  })
})
