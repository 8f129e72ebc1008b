/**
 * Reading a CAR that comes from anywhere: @ipld/car's decoder over a reader
 * that refuses, before buffering it, any header or section larger than a
 * DDS block can be, and that turns every decoding failure into an
 * `InvalidInputError` saying what is wrong with the file.
 *
 * @module
 */

import { bytesReader, chunkReader, limitReader, readBlockHead, readHeader } from '@ipld/car/decoder'
import type { CID } from 'multiformats/cid'
import { cidToString, parseCid } from '../cid.js'
import { DdsError, InvalidInputError } from '../errors.js'
import { MAX_CAR_ROOTS, MAX_CAR_SECTION_BYTES } from './constants.js'

/** What `importCar` reads: a whole CAR in memory, or a stream of its bytes (a file stream, an HTTP body). */
export type CarSource = Uint8Array | AsyncIterable<Uint8Array>

/** The reader @ipld/car's decoder functions take. */
interface BytesReader {
  upTo(length: number): Promise<Uint8Array>
  exactly(length: number, seek?: boolean): Promise<Uint8Array>
  seek(length: number): void
  readonly pos: number
}

/** One block of a CAR: its CID (checked to be a DDS CID) and its bytes (not yet checked against it). */
export interface CarBlock {
  cid: CID
  bytes: Uint8Array
}

/** A CAR being read: its roots, then its blocks one at a time. */
export interface CarStream {
  roots: CID[]
  blocks(): AsyncGenerator<CarBlock>
  /** Lets go of the source (closes a file or a stream that was not read to its end). */
  close(): Promise<void>
}

/**
 * Opens a CAR and reads its header.
 *
 * @throws {InvalidInputError} when `source` is not bytes or an async iterable
 * of bytes, the data is not a CARv1 or CARv2 file, its header is larger than
 * MAX_CAR_SECTION_BYTES, it names no root or more than MAX_CAR_ROOTS, or a
 * root is not a DDS CID
 */
export async function openCar (source: CarSource): Promise<CarStream> {
  let close = async (): Promise<void> => {}
  let base: BytesReader
  if (source instanceof Uint8Array) {
    base = bytesReader(source)
  } else if (source != null && typeof (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] === 'function') {
    const iterator = source[Symbol.asyncIterator]()
    close = async () => { await iterator.return?.() }
    base = chunkReader(async () => {
      let next: IteratorResult<Uint8Array>
      try {
        next = await iterator.next()
      } catch (err) {
        // the source's own failure (a read error, an aborted upload) is not the CAR's
        throw new SourceFailure(err)
      }
      if (next.done === true) {
        return null
      }
      if (!(next.value instanceof Uint8Array)) {
        throw new InvalidInputError('a CAR source must yield Uint8Arrays')
      }
      return next.value
    })
  } else {
    throw new InvalidInputError('a CAR to import must be a Uint8Array or an AsyncIterable<Uint8Array> (such as a file read stream)')
  }
  try {
    let reader = bounded(base)
    const header = await decoding(reader, async () => readHeader(reader))
    if (header.version === 2) {
      // a CARv2 wraps a CARv1 payload (followed by an index, which is not read)
      reader = limitReader(reader, header.dataSize - (reader.pos - header.dataOffset))
    }
    const roots = checkRoots(header.roots)
    return { roots, blocks: () => carBlocks(reader), close }
  } catch (err) {
    await close().catch(() => {})
    throw err
  }
}

function checkRoots (roots: CID[]): CID[] {
  if (roots.length === 0) {
    throw new InvalidInputError('the CAR names no root; DDS imports CARs whose roots are content CIDs, as `dds export` writes them')
  }
  if (roots.length > MAX_CAR_ROOTS) {
    throw new InvalidInputError(`the CAR names ${roots.length} roots; an import takes at most ${MAX_CAR_ROOTS}`)
  }
  const unique = new Map<string, CID>()
  for (const root of roots) {
    const cid = ddsCid(root, 'root')
    unique.set(cidToString(cid), cid)
  }
  return [...unique.values()]
}

/** Every block of the CAR, in its order. */
async function * carBlocks (reader: BytesReader): AsyncGenerator<CarBlock> {
  while ((await decoding(reader, async () => reader.upTo(8))).length > 0) {
    const head = await decoding(reader, async () => readBlockHead(reader))
    const cid = ddsCid(head.cid, 'block')
    if (head.blockLength > MAX_CAR_SECTION_BYTES) {
      throw tooLarge(head.blockLength, reader.pos)
    }
    const bytes = await decoding(reader, async () => reader.exactly(head.blockLength, true))
    yield { cid, bytes }
  }
}

/** A DDS CID, or an InvalidInputError naming the CID the CAR holds instead. */
function ddsCid (cid: CID, what: 'root' | 'block'): CID {
  try {
    return parseCid(cid)
  } catch (err) {
    throw new InvalidInputError(`the CAR holds a ${what} ${cid.toString()} that is not a DDS block (a CIDv1, raw codec, sha2-256): ${(err as Error).message}; DDS imports CARs of DDS content, as \`dds export\` writes them`, { cause: err })
  }
}

/** Refuses any single read larger than a DDS block and its CID, before it is buffered. */
function bounded (reader: BytesReader): BytesReader {
  return {
    async upTo (length) { return reader.upTo(length) },
    async exactly (length, seek) {
      if (length > MAX_CAR_SECTION_BYTES) {
        throw tooLarge(length, reader.pos)
      }
      return reader.exactly(length, seek)
    },
    seek (length) { reader.seek(length) },
    get pos () { return reader.pos }
  }
}

function tooLarge (length: number, at: number): InvalidInputError {
  return new InvalidInputError(`the CAR has a header or block of ${length} bytes at byte ${at}; a DDS block is at most ${MAX_CAR_SECTION_BYTES - 36} bytes, so this is not a CAR of DDS content (or it is damaged)`)
}

/** A failure of the source a CAR is read from, carried through @ipld/car's decoder. */
class SourceFailure {
  readonly error: unknown

  constructor (error: unknown) {
    this.error = error
  }
}

/**
 * Runs one step of @ipld/car's decoder, turning its failures into
 * InvalidInputErrors; a failure of the source is thrown as it is.
 */
async function decoding<T> (reader: BytesReader, step: () => Promise<T>): Promise<T> {
  try {
    return await step()
  } catch (err) {
    if (err instanceof SourceFailure) {
      throw err.error
    }
    if (err instanceof DdsError) {
      throw err
    }
    const message = (err as Error)?.message ?? String(err)
    if (/Unexpected end of data/i.test(message)) {
      throw new InvalidInputError(`the CAR is cut short: it ends in the middle of a header or block after ${reader.pos} bytes; the file is incomplete`, { cause: err })
    }
    throw new InvalidInputError(`not a valid CAR (at byte ${reader.pos}): ${message}`, { cause: err })
  }
}
