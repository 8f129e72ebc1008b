/**
 * The upload of a folder: `POST /api/v1/publish` with the media type
 * {@link ENTRIES_MEDIA_TYPE} carries the files one after another, each as
 * one line of JSON (`{"path":"disc 1/01 intro.flac","size":1234}`, and
 * optionally `mediaType` and `metadata`) followed by exactly `size` bytes of
 * the file. The entries stream into `publish` one at a time: the daemon holds
 * no file whole, whatever the folder's size.
 *
 * @module
 */

import { Uint8ArrayList } from 'uint8arraylist'
import { InvalidInputError } from '../errors.js'
import type { CollectionInput } from '../dds.js'
import { MAX_ENTRY_HEADER_BYTES } from './constants.js'

/** The media type of a folder upload. */
export const ENTRIES_MEDIA_TYPE = 'application/vnd.dds.entries'

const decoder = new TextDecoder('utf-8', { fatal: true })
const NEWLINE = new Uint8Array([0x0a])

/** One line of JSON before each file's bytes. */
export interface EntryHeader {
  path: string
  size: number
  mediaType?: string
  metadata?: Record<string, string>
}

/** The header line of one entry, as the CLI writes it. */
export function entryHeader (header: EntryHeader): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(header)}\n`)
}

function parseHeader (bytes: Uint8Array, index: number): EntryHeader {
  let value: unknown
  try {
    value = JSON.parse(decoder.decode(bytes))
  } catch {
    throw new InvalidInputError(`entry ${index} of the upload does not start with a line of JSON`)
  }
  const header = value as Partial<EntryHeader> | null
  if (header == null || typeof header.path !== 'string' || !Number.isSafeInteger(header.size) || (header.size as number) < 0) {
    throw new InvalidInputError(`entry ${index} of the upload needs "path" (a string) and "size" (a whole number of bytes)`)
  }
  return {
    path: header.path,
    size: header.size as number,
    ...(typeof header.mediaType === 'string' ? { mediaType: header.mediaType } : {}),
    ...(header.metadata != null && typeof header.metadata === 'object' ? { metadata: header.metadata } : {})
  }
}

/**
 * The entries of a folder upload, each with its content as a stream of
 * exactly its `size` bytes. Each entry's content must be read to its end
 * before the next entry is asked for (as `publish` does).
 *
 * @throws {InvalidInputError} when a header is not JSON, too long, or the body ends inside an entry
 */
export async function * readEntries (body: AsyncIterable<Uint8Array>): AsyncGenerator<CollectionInput> {
  const iterator = body[Symbol.asyncIterator]()
  const buffer = new Uint8ArrayList()
  let ended = false
  const fill = async (): Promise<boolean> => {
    if (ended) {
      return false
    }
    const next = await iterator.next()
    if (next.done === true) {
      ended = true
      return false
    }
    buffer.append(next.value)
    return true
  }
  for (let index = 0; ; index++) {
    // the header line
    let newline = buffer.indexOf(NEWLINE)
    while (newline < 0) {
      if (buffer.byteLength > MAX_ENTRY_HEADER_BYTES) {
        throw new InvalidInputError(`entry ${index} of the upload has a header line longer than ${MAX_ENTRY_HEADER_BYTES} bytes`)
      }
      if (!await fill()) {
        if (buffer.byteLength === 0) {
          return
        }
        throw new InvalidInputError(`the upload ends inside the header of entry ${index}`)
      }
      newline = buffer.indexOf(NEWLINE)
    }
    const header = parseHeader(buffer.subarray(0, newline), index)
    buffer.consume(newline + 1)
    let left = header.size
    async function * content (): AsyncGenerator<Uint8Array> {
      while (left > 0) {
        if (buffer.byteLength === 0 && !await fill()) {
          throw new InvalidInputError(`the upload ends ${left} bytes before the end of ${header.path}`)
        }
        const take = Math.min(left, buffer.byteLength)
        const piece = buffer.subarray(0, take)
        buffer.consume(take)
        left -= take
        yield piece
      }
    }
    yield {
      path: header.path,
      content: content(),
      ...(header.mediaType != null ? { mediaType: header.mediaType } : {}),
      ...(header.metadata != null ? { metadata: header.metadata } : {})
    }
    if (left > 0) {
      throw new InvalidInputError(`the content of ${header.path} was not read to its end`)
    }
  }
}
