import type { ContentInput } from '../chunker/index.js'
import type { CollectionInput, CollectionSource } from './index.js'

/** What `publish` was given: bytes of one content, or the entries of a collection. */
export type PublishInput =
  | { kind: 'content', input: ContentInput }
  | { kind: 'collection', entries: CollectionSource }

function isEntry (value: unknown): value is CollectionInput {
  return value != null && typeof value === 'object' && !(value instanceof Uint8Array) && typeof (value as { path?: unknown }).path === 'string'
}

/**
 * Tells content from a collection by the first item an iterable yields
 * (bytes, or a `{ path, ... }` entry), and gives back an iterable that still
 * yields that first item.
 */
export async function splitInput (input: ContentInput | CollectionSource): Promise<PublishInput> {
  if (input instanceof Uint8Array || (typeof ReadableStream !== 'undefined' && input instanceof ReadableStream)) {
    return { kind: 'content', input: input as ContentInput }
  }
  if (Array.isArray(input)) {
    return isEntry(input[0]) ? { kind: 'collection', entries: input as CollectionInput[] } : { kind: 'content', input: input as Iterable<Uint8Array> }
  }
  const source = input as Iterable<unknown> | AsyncIterable<unknown>
  const iterator = Symbol.asyncIterator in Object(source)
    ? (source as AsyncIterable<unknown>)[Symbol.asyncIterator]()
    : Symbol.iterator in Object(source)
      ? (source as Iterable<unknown>)[Symbol.iterator]()
      : undefined
  if (iterator == null) {
    // not iterable: the chunker says what was expected
    return { kind: 'content', input: input as ContentInput }
  }
  const first = await iterator.next()
  async function * rest (): AsyncGenerator<any> {
    if (first.done === true) {
      return
    }
    let done = false
    try {
      yield first.value
      for (let next = await iterator!.next(); next.done !== true; next = await iterator!.next()) {
        yield next.value
      }
      done = true
    } finally {
      // a consumer that stops early (an abort) releases the source
      if (!done) {
        await iterator!.return?.()
      }
    }
  }
  return first.done !== true && isEntry(first.value)
    ? { kind: 'collection', entries: rest() as AsyncIterable<CollectionInput> }
    : { kind: 'content', input: rest() as AsyncIterable<Uint8Array> }
}
