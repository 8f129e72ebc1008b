/**
 * The description a manifest may carry beside its chunk list: a name, a
 * media type and string key/value metadata (title, artist, album ...). It
 * does not change the meaning of the bytes, but it is part of the manifest
 * and so of the content's CID.
 *
 * Every description, from a caller or from a peer, is checked here with the
 * same bounds (see doc/LIMITS.md), so one from the network can take neither
 * much memory nor put unsafe text into an HTTP header or a page.
 *
 * @module
 */

import { InvalidInputError } from '../errors.js'

/** What `publish` records about content besides its bytes. */
export interface ContentDescription {
  /** A file name, e.g. `track.wav`: at most MAX_NAME_BYTES UTF-8 bytes, no control characters, no `/` or `\`. */
  name?: string
  /** A media type, e.g. `audio/wav` or `text/plain; charset=utf-8`: at most MAX_MEDIA_TYPE_LENGTH characters. */
  mediaType?: string
  /**
   * String key/value pairs: at most MAX_METADATA_ENTRIES, keys of 1 to
   * MAX_METADATA_KEY_LENGTH characters from `A-Z a-z 0-9 . _ : -`, values of
   * at most MAX_METADATA_VALUE_BYTES UTF-8 bytes without control characters.
   */
  metadata?: Record<string, string>
}

/** The checked form of a description: `metadata` always present, its keys in sorted order. */
export interface CheckedDescription {
  name?: string
  mediaType?: string
  metadata: Record<string, string>
}

/** Longest name, in UTF-8 bytes. */
export const MAX_NAME_BYTES = 255
/** Longest media type, in characters (ASCII only). */
export const MAX_MEDIA_TYPE_LENGTH = 127
/** Most metadata entries. */
export const MAX_METADATA_ENTRIES = 64
/** Longest metadata key, in characters (ASCII only). */
export const MAX_METADATA_KEY_LENGTH = 64
/** Longest metadata value, in UTF-8 bytes. */
export const MAX_METADATA_VALUE_BYTES = 1024
/**
 * Most bytes a whole description takes in a manifest (name, media type and
 * every metadata entry, encoded). Bounds what one catalog entry or manifest
 * root spends on description.
 */
export const MAX_DESCRIPTION_BYTES = 16384

const KEY = /^[A-Za-z0-9._:-]+$/
const TOKEN = "[A-Za-z0-9!#$&^_.+-]+"
// quoted parameter values: printable ASCII but `"` and `\` (a media type goes into an HTTP header)
const MEDIA_TYPE = new RegExp(`^${TOKEN}/${TOKEN}(?:[ \\t]*;[ \\t]*${TOKEN}=(?:${TOKEN}|"[\\u0020\\u0021\\u0023-\\u005b\\u005d-\\u007e]*"))*$`)
// C0 controls, DEL and the C1 controls
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/
const encoder = new TextEncoder()

function checkText (value: unknown, what: string, maxBytes: number): string {
  if (typeof value !== 'string') {
    throw new InvalidInputError(`${what} must be a string, got ${value === null ? 'null' : typeof value}`)
  }
  if (!value.isWellFormed()) {
    throw new InvalidInputError(`${what} is not well-formed Unicode (it has a lone surrogate)`)
  }
  if (CONTROL.test(value)) {
    throw new InvalidInputError(`${what} must not contain control characters`)
  }
  const bytes = encoder.encode(value).byteLength
  if (bytes > maxBytes) {
    throw new InvalidInputError(`${what} is ${bytes} UTF-8 bytes long; the limit is ${maxBytes}`)
  }
  return value
}

/**
 * Checks a description and returns its canonical form (metadata keys in
 * sorted order, in a new object). An empty name or media type counts as none.
 *
 * @throws {InvalidInputError} when a field is not a string, is too long, holds
 * control characters, a name holds a path separator, a media type is not
 * `type/subtype[; param=value]`, a metadata key has other characters, or the
 * whole description takes more than MAX_DESCRIPTION_BYTES
 */
export function checkDescription (description: ContentDescription = {}): CheckedDescription {
  if (description == null || typeof description !== 'object') {
    throw new InvalidInputError('a description must be an object { name?, mediaType?, metadata? }')
  }
  const out: CheckedDescription = { metadata: {} }
  if (description.name != null && description.name !== '') {
    const name = checkText(description.name, 'name', MAX_NAME_BYTES)
    if (/[/\\]/.test(name)) {
      throw new InvalidInputError(`name must be a file name without '/' or '\\', got ${JSON.stringify(name)}`)
    }
    if (name === '.' || name === '..') {
      throw new InvalidInputError(`name must be a file name, got ${JSON.stringify(name)}`)
    }
    out.name = name
  }
  if (description.mediaType != null && description.mediaType !== '') {
    const mediaType = description.mediaType
    if (typeof mediaType !== 'string' || mediaType.length > MAX_MEDIA_TYPE_LENGTH || !MEDIA_TYPE.test(mediaType)) {
      const shown = typeof mediaType === 'string' ? JSON.stringify(mediaType.slice(0, MAX_MEDIA_TYPE_LENGTH + 1)) : typeof mediaType
      throw new InvalidInputError(`mediaType must be a media type such as "audio/wav" or "text/plain; charset=utf-8" of at most ${MAX_MEDIA_TYPE_LENGTH} characters, got ${shown}`)
    }
    out.mediaType = mediaType
  }
  const metadata = description.metadata ?? {}
  if (typeof metadata !== 'object' || Array.isArray(metadata)) {
    throw new InvalidInputError('metadata must be an object of string keys and string values')
  }
  const keys = Object.keys(metadata)
  if (keys.length > MAX_METADATA_ENTRIES) {
    throw new InvalidInputError(`metadata has ${keys.length} entries; the limit is ${MAX_METADATA_ENTRIES}`)
  }
  const entries: Array<[string, string]> = []
  for (const key of keys.sort()) {
    if (key.length > MAX_METADATA_KEY_LENGTH || !KEY.test(key)) {
      throw new InvalidInputError(`metadata key ${JSON.stringify(key.slice(0, MAX_METADATA_KEY_LENGTH + 1))} must be 1 to ${MAX_METADATA_KEY_LENGTH} characters from A-Z a-z 0-9 . _ : -`)
    }
    const value = checkText(metadata[key], `metadata value of ${JSON.stringify(key)}`, MAX_METADATA_VALUE_BYTES)
    entries.push([key, value])
  }
  out.metadata = Object.fromEntries(entries)
  const total = descriptionSize(out)
  if (total > MAX_DESCRIPTION_BYTES) {
    throw new InvalidInputError(`the description (name, media type and metadata) takes ${total} bytes; the limit is ${MAX_DESCRIPTION_BYTES}`)
  }
  return out
}

/**
 * Bytes a description takes in an encoded manifest, at most: each field's
 * tag and length prefix with its text; a metadata entry's tag and length,
 * then its key and value each with a tag and a length.
 */
export function descriptionSize (description: CheckedDescription): number {
  let total = 0
  if (description.name != null) {
    total += encoder.encode(description.name).byteLength + 3
  }
  if (description.mediaType != null) {
    total += description.mediaType.length + 2
  }
  for (const [key, value] of Object.entries(description.metadata)) {
    total += key.length + encoder.encode(value).byteLength + 8
  }
  return total
}

/**
 * The description fields of a manifest or catalog item, in the checked
 * shape: `name` and `mediaType` only when set, `metadata` always (a copy).
 */
export function descriptionOf (source: ContentDescription): CheckedDescription {
  return {
    ...(source.name != null ? { name: source.name } : {}),
    ...(source.mediaType != null ? { mediaType: source.mediaType } : {}),
    metadata: { ...source.metadata }
  }
}

/** The metadata as protobuf `MetadataEntry` objects, in key order. */
export function metadataEntries (metadata: Record<string, string>): Array<{ key: string, value: string }> {
  return Object.keys(metadata).sort().map(key => ({ key, value: metadata[key]! }))
}

/**
 * Turns decoded `MetadataEntry` objects into a metadata object, refusing
 * duplicate or unsorted keys (the canonical form lists each key once, in order).
 *
 * @throws {InvalidInputError} for duplicate or out-of-order keys (other checks are {@link checkDescription}'s)
 */
export function metadataFromEntries (entries: Array<{ key?: string | null, value?: string | null }>): Record<string, string> {
  if (entries.length > MAX_METADATA_ENTRIES) {
    throw new InvalidInputError(`metadata has ${entries.length} entries; the limit is ${MAX_METADATA_ENTRIES}`)
  }
  const pairs: Array<[string, string]> = []
  let previous: string | undefined
  for (const entry of entries) {
    const key = entry.key ?? ''
    if (previous != null && !(key > previous)) {
      throw new InvalidInputError(`metadata keys must be unique and in sorted order (${JSON.stringify(key.slice(0, 80))} follows ${JSON.stringify(previous.slice(0, 80))})`)
    }
    previous = key
    pairs.push([key, entry.value ?? ''])
  }
  return Object.fromEntries(pairs)
}
