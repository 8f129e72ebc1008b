/**
 * Collections: a folder or an album as one piece of content. A collection is
 * content like any other (chunked, hashed, named by its manifest's CID)
 * whose manifest has the media type {@link COLLECTION_MEDIA_TYPE} and whose
 * bytes are a `Collection` message listing the entries: a path, the
 * manifest CID of the entry's content, its size and its description.
 *
 * @module
 */

import { equals } from 'multiformats/bytes'
import { CID_BYTE_LENGTH, parseCid, type CID } from '../cid.js'
import { InvalidInputError } from '../errors.js'
import { pb, uint64ToNumber } from '../pb/index.js'
import { checkDescription, metadataEntries, metadataFromEntries, type ContentDescription } from './describe.js'
import { checkSize } from './layout.js'
import { MAX_COLLECTION_BYTES, MAX_COLLECTION_ENTRIES, MAX_PATH_BYTES } from './constants.js'

/** The media type of a collection's manifest. */
export const COLLECTION_MEDIA_TYPE = 'application/vnd.dds.collection'

/** One entry of a collection. */
export interface CollectionEntry extends ContentDescription {
  /** Where the entry sits in the collection: relative, `/`-separated, e.g. `disc 1/01 intro.flac`. */
  path: string
  /** The manifest CID of the entry's content. */
  cid: CID
  /** The entry's content size in bytes. */
  size: number
}

/** True when a manifest (or a description) is a collection's. */
export function isCollection (description: Pick<ContentDescription, 'mediaType'>): boolean {
  return description.mediaType === COLLECTION_MEDIA_TYPE
}

const encoder = new TextEncoder()

/**
 * Checks a path of a collection: relative, `/`-separated, at most
 * MAX_PATH_BYTES UTF-8 bytes, with no empty, `.` or `..` segment and no
 * backslash or control character, so that a tree made from it stays inside
 * the folder it is written to, on every platform.
 *
 * @throws {InvalidInputError} naming what is wrong
 */
export function checkPath (path: unknown): string {
  if (typeof path !== 'string' || path === '') {
    throw new InvalidInputError('a collection path must be a non-empty string')
  }
  if (encoder.encode(path).byteLength > MAX_PATH_BYTES) {
    throw new InvalidInputError(`collection path "${path.slice(0, 64)}..." is longer than ${MAX_PATH_BYTES} bytes`)
  }
  if (path.startsWith('/') || /^[A-Za-z]:/.test(path)) {
    throw new InvalidInputError(`collection path "${path}" is absolute; paths are relative to the collection`)
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\]/.test(path)) {
    throw new InvalidInputError(`collection path "${JSON.stringify(path).slice(1, -1)}" has a control character or a backslash`)
  }
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.' || segment === '..') {
      throw new InvalidInputError(`collection path "${path}" has ${segment === '' ? 'an empty' : `a "${segment}"`} segment`)
    }
  }
  return path
}

function comparePaths (a: string, b: string): number {
  return Buffer.compare(encoder.encode(a), encoder.encode(b))
}

/**
 * Checks entries and returns them sorted by path (UTF-8 byte order), each
 * with a checked description.
 *
 * @throws {InvalidInputError} for a bad path, a path given twice, a path that is both a file and a folder, a bad size or description, or too many entries
 */
export function checkEntries (entries: CollectionEntry[]): CollectionEntry[] {
  if (entries.length > MAX_COLLECTION_ENTRIES) {
    throw new InvalidInputError(`a collection has at most ${MAX_COLLECTION_ENTRIES} entries, got ${entries.length}`)
  }
  const checked = entries.map(entry => {
    const path = checkPath(entry.path)
    checkSize(entry.size, `size of ${path}`)
    const description = checkDescription({ name: entry.name, mediaType: entry.mediaType, metadata: entry.metadata })
    return {
      path,
      cid: parseCid(entry.cid),
      size: entry.size,
      ...(description.name != null ? { name: description.name } : {}),
      ...(description.mediaType != null ? { mediaType: description.mediaType } : {}),
      ...(description.metadata != null ? { metadata: description.metadata } : {})
    }
  }).sort((a, b) => comparePaths(a.path, b.path))
  for (let i = 1; i < checked.length; i++) {
    if (checked[i]!.path === checked[i - 1]!.path) {
      throw new InvalidInputError(`collection path "${checked[i]!.path}" is given twice`)
    }
  }
  // a path that is a file cannot also be a folder of another entry: such a
  // tree cannot be written to disk
  const paths = new Set(checked.map(e => e.path))
  for (const { path } of checked) {
    for (let slash = path.indexOf('/'); slash !== -1; slash = path.indexOf('/', slash + 1)) {
      if (paths.has(path.slice(0, slash))) {
        throw new InvalidInputError(`collection path "${path.slice(0, slash)}" is a file and also the folder of "${path}"`)
      }
    }
  }
  return checked
}

/** Encodes a collection's content: its entries, checked and sorted by path. */
export function encodeCollection (entries: CollectionEntry[]): Uint8Array {
  const checked = checkEntries(entries)
  const encoded = pb.Collection.encode({
    entries: checked.map(e => ({
      path: e.path,
      cid: e.cid.bytes,
      size: e.size,
      name: e.name ?? '',
      mediaType: e.mediaType ?? '',
      metadata: metadataEntries(e.metadata ?? {})
    }))
  }).finish()
  if (encoded.byteLength > MAX_COLLECTION_BYTES) {
    throw new InvalidInputError(`the collection encodes to ${encoded.byteLength} bytes, more than ${MAX_COLLECTION_BYTES}`)
  }
  return new Uint8Array(encoded)
}

/**
 * Decodes a collection's content. Only the canonical encoding of checked
 * entries is accepted: a listing from a peer with a path that could leave the
 * folder it is written to (`..`, absolute), a path given twice or entries out
 * of order is refused.
 *
 * @throws {InvalidInputError} when the bytes are not a valid collection
 */
export function decodeCollection (bytes: Uint8Array): CollectionEntry[] {
  if (bytes.byteLength > MAX_COLLECTION_BYTES) {
    throw new InvalidInputError(`a collection of ${bytes.byteLength} bytes is larger than the limit of ${MAX_COLLECTION_BYTES} bytes`)
  }
  let message: ReturnType<typeof pb.Collection.decode>
  try {
    message = pb.Collection.decode(bytes)
  } catch (err) {
    throw new InvalidInputError(`not a valid collection: ${(err as Error).message}`, { cause: err })
  }
  let entries: CollectionEntry[]
  try {
    entries = checkEntries(message.entries.map((e, i) => {
      const cid = e.cid ?? new Uint8Array(0)
      if (cid.byteLength !== CID_BYTE_LENGTH) {
        throw new InvalidInputError(`entry ${i} has a CID of ${cid.byteLength} bytes`)
      }
      return {
        path: e.path ?? '',
        cid: parseCid(cid),
        size: uint64ToNumber(e.size, 'entry size'),
        ...(e.name != null && e.name !== '' ? { name: e.name } : {}),
        ...(e.mediaType != null && e.mediaType !== '' ? { mediaType: e.mediaType } : {}),
        ...(e.metadata != null && e.metadata.length > 0 ? { metadata: metadataFromEntries(e.metadata) } : {})
      }
    }))
  } catch (err) {
    throw new InvalidInputError(`not a valid collection: ${(err as Error).message}`, { cause: err })
  }
  if (!equals(encodeCollection(entries), bytes)) {
    throw new InvalidInputError('not a valid collection: the bytes are not the canonical encoding of its entries (entries out of path order, fields repeated or with default values)')
  }
  return entries
}
