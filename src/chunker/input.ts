/**
 * Turns the kinds of content input DDS accepts into one async iterable of
 * byte slices, checking every slice on the way.
 *
 * @module
 */

import { InvalidInputError } from '../errors.js'

/**
 * Content as DDS accepts it: the bytes at once, or a stream of byte slices
 * (any iterable or async iterable, a WHATWG `ReadableStream`, or a Node.js
 * `Readable`, which is an async iterable of `Buffer`s). Slices may have any
 * size, empty ones included.
 */
export type ContentInput = Uint8Array | AsyncIterable<Uint8Array> | Iterable<Uint8Array> | ReadableStream<Uint8Array>

const ACCEPTED = 'expected a Uint8Array, an iterable or async iterable of Uint8Array, or a ReadableStream of Uint8Array'

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined }

/**
 * Views any content input as an async iterable of `Uint8Array` slices.
 *
 * The input's kind is checked at once; each slice is checked as it is read.
 * The returned iterable can be iterated once (it reads the input). Leaving a
 * loop early calls `return()` on the input's iterator, or cancels a
 * `ReadableStream`, so the source is released.
 *
 * @throws {InvalidInputError} at once for a string, number, null or other
 * unsupported value; while iterating, for a slice that is not a `Uint8Array`
 */
export function toAsyncIterable (input: ContentInput): AsyncIterable<Uint8Array> {
  const open = sourceOpener(input)
  return {
    [Symbol.asyncIterator]: () => checkedIterator(open())
  }
}

type Opener = () => AsyncIterator<unknown> | Iterator<unknown>

function sourceOpener (input: unknown): Opener {
  if (input instanceof Uint8Array) {
    return () => [input][Symbol.iterator]()
  }
  if (typeof input === 'string') {
    throw new InvalidInputError(`content must be bytes, not a string: encode it first (new TextEncoder().encode(text)); ${ACCEPTED}`)
  }
  if (input == null || (typeof input !== 'object' && typeof input !== 'function')) {
    throw new InvalidInputError(`content cannot be ${input === null ? 'null' : typeof input}; ${ACCEPTED}`)
  }
  if (isReadableStream(input)) {
    return () => readableStreamIterator(input)
  }
  if (Symbol.asyncIterator in input && typeof input[Symbol.asyncIterator] === 'function') {
    const iterable = input as AsyncIterable<unknown>
    return () => iterable[Symbol.asyncIterator]()
  }
  if (Symbol.iterator in input && typeof input[Symbol.iterator] === 'function') {
    const iterable = input as Iterable<unknown>
    return () => iterable[Symbol.iterator]()
  }
  if (input instanceof ArrayBuffer || ArrayBuffer.isView(input)) {
    throw new InvalidInputError(`content must be a Uint8Array, not a ${input.constructor.name}: wrap it with new Uint8Array(...)`)
  }
  throw new InvalidInputError(`unsupported content (${describe(input)}); ${ACCEPTED}`)
}

function isReadableStream (input: object): input is ReadableStream<unknown> {
  return typeof (input as { getReader?: unknown }).getReader === 'function'
}

/**
 * Reads a `ReadableStream` through a reader rather than a generator, so that
 * `return()` cancels the stream at once, even while a read is pending.
 */
function readableStreamIterator (stream: ReadableStream<unknown>): AsyncIterator<unknown> {
  const reader = stream.getReader()
  let finished = false
  const release = (): void => {
    finished = true
    try {
      reader.releaseLock()
    // the reader is done with either way; a lock already released has nothing to say
    } catch {}
  }
  return {
    async next () {
      if (finished) {
        return DONE
      }
      const result = await reader.read()
      if (result.done) {
        release()
        return DONE
      }
      return { done: false, value: result.value }
    },
    async return () {
      if (!finished) {
        finished = true
        await reader.cancel()
        release()
      }
      return DONE
    }
  }
}

/** Wraps a source iterator: checks each slice and forwards `return()`. */
function checkedIterator (source: AsyncIterator<unknown> | Iterator<unknown>): AsyncIterator<Uint8Array> {
  let index = 0
  return {
    async next () {
      const result = await source.next()
      if (result.done === true) {
        return DONE
      }
      if (!(result.value instanceof Uint8Array)) {
        // The source has not ended by itself: release it before reporting the bad slice.
        await closeQuietly(source)
        throw badSlice(result.value, index)
      }
      index++
      return { done: false, value: result.value }
    },
    async return () {
      await source.return?.()
      return DONE
    }
  }
}

async function closeQuietly (source: AsyncIterator<unknown> | Iterator<unknown>): Promise<void> {
  try {
    await source.return?.()
  // closing a source on the way out of an error: the first error is the one reported
  } catch {}
}

function badSlice (value: unknown, index: number): InvalidInputError {
  const hint = value instanceof ArrayBuffer || ArrayBuffer.isView(value)
    ? ': wrap it with new Uint8Array(...)'
    : typeof value === 'string' ? ': encode strings first (new TextEncoder().encode(text))' : ''
  return new InvalidInputError(`content slice ${index} is ${describe(value)}, not a Uint8Array${hint}`)
}

function describe (value: unknown): string {
  if (value === null) {
    return 'null'
  }
  if (typeof value === 'object' || typeof value === 'function') {
    const name = (value as { constructor?: { name?: unknown } }).constructor?.name
    return typeof name === 'string' && name.length > 0 ? `a ${name}` : `an ${typeof value}`
  }
  return `a ${typeof value}`
}
