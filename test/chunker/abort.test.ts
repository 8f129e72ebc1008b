import { describe, it, expect } from 'vitest'
import { waitFor } from '../utils/wait.js'
import { CHUNK_SIZE, chunkContent } from '../../src/chunker/index.js'

/** An async iterator of full chunks that records whether return() was called. */
function trackedSource (count: number, stallAfter = Infinity): { iterable: AsyncIterable<Uint8Array>, state: { returned: boolean, pulled: number } } {
  const state = { returned: false, pulled: 0 }
  const iterator: AsyncIterator<Uint8Array> = {
    async next () {
      if (state.pulled >= stallAfter) {
        return await new Promise<never>(() => {})
      }
      if (state.pulled >= count) {
        return { done: true, value: undefined }
      }
      state.pulled++
      return { done: false, value: new Uint8Array(CHUNK_SIZE) }
    },
    async return () {
      state.returned = true
      return { done: true, value: undefined }
    }
  }
  return { iterable: { [Symbol.asyncIterator]: () => iterator }, state }
}

describe('chunkContent abort', () => {
  it('rejects with AbortError mid-way and calls return() on the source', async () => {
    const controller = new AbortController()
    const { iterable, state } = trackedSource(10)
    const seen: number[] = []
    await expect((async () => {
      for await (const chunk of chunkContent(iterable, { signal: controller.signal })) {
        seen.push(chunk.index)
        if (chunk.index === 2) {
          controller.abort()
        }
      }
    })()).rejects.toMatchObject({ name: 'AbortError' })
    expect(seen).toEqual([0, 1, 2])
    expect(state.returned).toBe(true)
    expect(state.pulled).toBe(3)
  })

  it('rejects at once when the signal is already aborted, without reading the input', async () => {
    const { iterable, state } = trackedSource(10)
    const iterator = chunkContent(iterable, { signal: AbortSignal.abort() })
    await expect(iterator.next()).rejects.toMatchObject({ name: 'AbortError' })
    expect(state.pulled).toBe(0)
  })

  it('reports a timeout signal as TimeoutError', async () => {
    const { iterable, state } = trackedSource(1, 1)
    const iterator = chunkContent(iterable, { signal: AbortSignal.timeout(50) })
    await expect(iterator.next()).resolves.toMatchObject({ done: false })
    await expect(iterator.next()).rejects.toMatchObject({ name: 'TimeoutError' })
    expect(state.returned).toBe(true)
  })

  it('interrupts a read that waits on a stalled source', async () => {
    const controller = new AbortController()
    const { iterable, state } = trackedSource(10, 1)
    const iterator = chunkContent(iterable, { signal: controller.signal })
    await expect(iterator.next()).resolves.toMatchObject({ done: false })
    const pending = iterator.next()
    // the read is pending on the stalled source when the abort comes
    setImmediate(() => { controller.abort() })
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' })
    expect(state.returned).toBe(true)
  })

  it('cancels a stalled ReadableStream on abort', async () => {
    const controller = new AbortController()
    let cancelled = false
    let sent = false
    const stream = new ReadableStream<Uint8Array>({
      pull (c) {
        if (!sent) {
          sent = true
          c.enqueue(new Uint8Array(CHUNK_SIZE))
        }
        return new Promise(() => {})
      },
      cancel () { cancelled = true }
    }, { highWaterMark: 0 })
    const iterator = chunkContent(stream, { signal: controller.signal })
    await expect(iterator.next()).resolves.toMatchObject({ done: false })
    const pending = iterator.next()
    // the read is pending on the stalled source when the abort comes
    setImmediate(() => { controller.abort() })
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' })
    await waitFor(() => cancelled, 'the stream to be cancelled')
  })
})
