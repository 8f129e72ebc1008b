/**
 * Cuts content into fixed-size chunks and names each by its CID.
 *
 * @module
 */

import { cidForBlock, type CID } from '../cid.js'
import { abortReason, throwIfAborted } from '../errors.js'
import { CHUNK_SIZE, CHUNKING_OPERATION } from './constants.js'
import { toAsyncIterable, type ContentInput } from './input.js'

/** One chunk of content. */
export interface Chunk {
  /** Position of the chunk in the content, from 0. */
  index: number
  /** Offset of the chunk's first byte in the content (`index * CHUNK_SIZE`). */
  offset: number
  /**
   * The chunk's bytes: `CHUNK_SIZE` of them, fewer only for the last chunk.
   * Always the chunk's own memory (a copy of the input), so a source that
   * reuses its buffers cannot change a chunk after it was hashed.
   */
  bytes: Uint8Array
  /** CIDv1, raw codec, sha2-256 of `bytes`. */
  cid: CID
}

/** Options of {@link chunkContent}. */
export interface ChunkContentOptions {
  /** Stops chunking: the generator throws `AbortError` (or `TimeoutError`) and releases the input. */
  signal?: AbortSignal
}

/**
 * Cuts content into chunks of exactly `CHUNK_SIZE` bytes (the last one may be
 * shorter; empty content yields no chunk), whatever the slicing of the input.
 *
 * Memory stays bounded: at most one chunk being assembled plus the current
 * input slice is held. Every byte is copied exactly once, into the chunk's
 * own memory, so a consumer may keep chunks it has been given and a source
 * may reuse its buffers (a copy costs far less than the SHA-256 of the same
 * bytes).
 *
 * The signal is checked before each read from the input and before each
 * chunk is yielded; an abort also interrupts a read that is waiting on the
 * input. When the consumer stops early, on abort, or on a bad slice, the
 * input is released (`return()` on its iterator, `cancel()` on a stream).
 *
 * @throws {InvalidInputError} for an unsupported input or a slice that is not a Uint8Array
 * @throws {AbortError} (or `TimeoutError`) when the signal aborts
 */
export async function * chunkContent (input: ContentInput, options: ChunkContentOptions = {}): AsyncGenerator<Chunk, void, undefined> {
  const { signal } = options
  throwIfAborted(signal, CHUNKING_OPERATION)
  const source = new SourceReader(toAsyncIterable(input)[Symbol.asyncIterator](), signal)
  const assembler = new ChunkAssembler()
  try {
    for (let slice = await source.read(); slice != null; slice = await source.read()) {
      for (const chunk of assembler.push(slice)) {
        throwIfAborted(signal, CHUNKING_OPERATION)
        yield chunk
      }
    }
    const last = assembler.flush()
    if (last != null) {
      throwIfAborted(signal, CHUNKING_OPERATION)
      yield last
    }
  } finally {
    await source.close()
  }
}

/**
 * Assembles input slices into chunks. Holds at most one partly filled chunk
 * buffer, and allocates a new one for every chunk it fills, so chunks already
 * handed out are never overwritten.
 */
class ChunkAssembler {
  private buffer: Uint8Array | undefined
  private filled = 0
  private index = 0
  private offset = 0

  /** The last, short chunk if the content did not end on a chunk boundary. */
  flush (): Chunk | undefined {
    if (this.buffer == null || this.filled === 0) {
      return undefined
    }
    // Copy to an exact-size buffer so a short chunk does not pin 256 KiB.
    const bytes = this.buffer.slice(0, this.filled)
    this.buffer = undefined
    this.filled = 0
    return this.emit(bytes)
  }

  /** Adds a slice; yields every chunk it completes. */
  * push (slice: Uint8Array): Generator<Chunk, void, undefined> {
    let pos = 0
    while (pos < slice.byteLength) {
      const buffer = this.buffer ?? new Uint8Array(CHUNK_SIZE)
      this.buffer = buffer
      const take = Math.min(CHUNK_SIZE - this.filled, slice.byteLength - pos)
      buffer.set(slice.subarray(pos, pos + take), this.filled)
      this.filled += take
      pos += take
      if (this.filled === CHUNK_SIZE) {
        this.buffer = undefined
        this.filled = 0
        yield this.emit(buffer)
      }
    }
  }

  private emit (bytes: Uint8Array): Chunk {
    const chunk: Chunk = { index: this.index, offset: this.offset, bytes, cid: cidForBlock(bytes) }
    this.index++
    this.offset += bytes.byteLength
    return chunk
  }
}

/**
 * Reads the input iterator, racing each read against the abort signal, and
 * releases the iterator when reading stops before the input's end.
 */
class SourceReader {
  private finished = false
  private pending = false

  constructor (private readonly iterator: AsyncIterator<Uint8Array>, private readonly signal: AbortSignal | undefined) {}

  /** The next slice, or undefined at the end of the input. */
  async read (): Promise<Uint8Array | undefined> {
    throwIfAborted(this.signal, CHUNKING_OPERATION)
    this.pending = true
    let result: IteratorResult<Uint8Array>
    try {
      result = await this.nextOrAbort()
    } catch (err) {
      // A source whose next() threw has ended; one we abandoned on abort has not.
      this.finished = this.signal?.aborted !== true
      throw err
    }
    this.pending = false
    if (result.done === true) {
      this.finished = true
      return undefined
    }
    return result.value
  }

  private async nextOrAbort (): Promise<IteratorResult<Uint8Array>> {
    const next = this.iterator.next()
    const signal = this.signal
    if (signal == null) {
      return next
    }
    // the caller receives this promise's rejection through `next`; this only marks it handled
    next.catch(() => {})
    let onAbort = (): void => {}
    const aborted = new Promise<never>((_resolve, reject) => {
      onAbort = () => { reject(abortReason(signal, CHUNKING_OPERATION)) }
      signal.addEventListener('abort', onAbort, { once: true })
    })
    try {
      return await Promise.race([next, aborted])
    } finally {
      signal.removeEventListener('abort', onAbort)
    }
  }

  /**
   * Releases the input unless it ended by itself. When a read is still
   * waiting (abort mid-read), `return()` is called but not awaited, since
   * some sources answer it only after the pending read settles. Errors from
   * `return()` are ignored: the input is being discarded, and they must not
   * hide the error or the early exit that caused the release.
   */
  async close (): Promise<void> {
    if (this.finished) {
      return
    }
    this.finished = true
    let released: Promise<unknown>
    try {
      released = Promise.resolve(this.iterator.return?.())
    } catch (err) {
      released = Promise.reject(err)
    }
    // the rejection was handed to the caller above; this keeps it from being reported twice
    released = released.catch(() => {})
    if (!this.pending) {
      await released
    }
  }
}
