/**
 * The canonical encoding of a manifest, and its checked decoding.
 *
 * The encoding is the protobuf `ContentManifest` of
 * `protos/dds_messages.proto` written by protobufjs: fields in field-number
 * order, chunk CIDs in content order, proto3 defaults (a zero size) left out,
 * minimal varints. Exactly one byte string encodes a given manifest, and
 * {@link decodeManifest} accepts only that one, so each content has exactly
 * one manifest CID and `encodeManifest(decodeManifest(bytes))` returns
 * `bytes` unchanged.
 *
 * Forward compatibility: a manifest with fields this version does not know
 * (added by a newer version) is accepted as long as the fields it does know
 * are valid; the canonical-encoding check needs every field understood, so it
 * is skipped for such a manifest.
 *
 * @module
 */

import protobuf from 'protobufjs/minimal.js'
import { equals } from 'multiformats/bytes'
import { CID_BYTE_LENGTH, parseCid, type CID } from '../cid.js'
import { InvalidInputError } from '../errors.js'
import { pb, uint64ToNumber, type ContentManifestMessage } from '../pb/index.js'
import { MAX_CHUNKS_PER_MANIFEST, MAX_CHUNKS_PER_NODE, MAX_CONTENT_SIZE, MAX_MANIFEST_BLOCK_SIZE } from './constants.js'
import { createManifest, type Manifest } from './manifest.js'
import { metadataEntries, metadataFromEntries } from './describe.js'

/** Options of {@link decodeManifest}. */
export interface DecodeManifestOptions {
  /**
   * Refuse blocks longer than this many bytes, before decoding them.
   *
   * @default MAX_MANIFEST_BLOCK_SIZE (1 MiB)
   */
  maxSize?: number
}

/**
 * Encodes a manifest canonically (see the module description).
 *
 * @throws {InvalidInputError} when the manifest is invalid (see
 * `createManifest`) or describes more than `MAX_CONTENT_SIZE` bytes, so that
 * its block would exceed `MAX_MANIFEST_BLOCK_SIZE`
 */
export function encodeManifest (manifest: Manifest): Uint8Array {
  const checked = createManifest(manifest)
  if (checked.chunkCids.length > MAX_CHUNKS_PER_MANIFEST) {
    throw new InvalidInputError(`content of ${checked.size} bytes is too large for one manifest block (${MAX_CHUNKS_PER_MANIFEST} chunks at most, ${MAX_CONTENT_SIZE} bytes): build a tree manifest (ManifestBuilder does)`)
  }
  const encoded = pb.ContentManifest.encode({
    chunkCids: checked.chunkCids.map((cid) => cid.bytes),
    originalContentSha256: checked.sha256,
    originalContentSizeBytes: checked.size,
    childManifestCids: (checked.children ?? []).map((cid) => cid.bytes),
    chunksPerChild: checked.chunksPerChild ?? 0,
    name: checked.name ?? '',
    mediaType: checked.mediaType ?? '',
    metadata: metadataEntries(checked.metadata ?? {})
  }).finish()
  if (encoded.byteLength > MAX_MANIFEST_BLOCK_SIZE) {
    throw new InvalidInputError(`the manifest encodes to ${encoded.byteLength} bytes, more than MAX_MANIFEST_BLOCK_SIZE (${MAX_MANIFEST_BLOCK_SIZE})`)
  }
  // A plain, exact-size copy: protobufjs may return a view on a shared Buffer pool.
  return new Uint8Array(encoded)
}

/**
 * Decodes and validates a manifest block received from anywhere (a peer, the
 * store, a caller). Works on a private copy of `bytes`.
 *
 * @throws {InvalidInputError} when the block is longer than `maxSize`, is not
 * a `ContentManifest` protobuf, has fields this version does not know, lists
 * a chunk CID that is not a CIDv1 raw sha2-256 CID, has a SHA-256 that is not
 * 32 bytes or a size that does not match its chunk count, or is not the
 * canonical encoding of the manifest it holds
 */
export function decodeManifest (bytes: Uint8Array, options: DecodeManifestOptions = {}): Manifest {
  const maxSize = options.maxSize ?? MAX_MANIFEST_BLOCK_SIZE
  if (!Number.isSafeInteger(maxSize) || maxSize < 0) {
    throw new InvalidInputError(`maxSize must be a non-negative safe integer, got ${String(maxSize)}`)
  }
  if (!(bytes instanceof Uint8Array)) {
    throw new InvalidInputError('a manifest block must be a Uint8Array')
  }
  if (bytes.byteLength > maxSize) {
    throw new InvalidInputError(`manifest block of ${bytes.byteLength} bytes is larger than the limit of ${maxSize} bytes`)
  }
  const own = new Uint8Array(bytes)
  const message = decodeMessage(own)
  const tree = message.childManifestCids.length > 0 || (message.chunksPerChild ?? 0) !== 0
  let manifest: Manifest
  try {
    manifest = createManifest({
      chunkCids: message.chunkCids.map(decodeChunkCid),
      sha256: message.originalContentSha256 ?? new Uint8Array(0),
      size: uint64ToNumber(message.originalContentSizeBytes, 'manifest size'),
      ...(tree ? { children: message.childManifestCids.map(decodeChunkCid), chunksPerChild: message.chunksPerChild } : {}),
      name: message.name,
      mediaType: message.mediaType,
      metadata: metadataFromEntries(message.metadata)
    })
  } catch (err) {
    throw new InvalidInputError(`invalid manifest: ${(err as Error).message}`, { cause: err })
  }
  const newer = (message.$unknowns ?? []).length > 0
  if (!newer && !equals(encodeManifest(manifest), own)) {
    throw new InvalidInputError('invalid manifest: the block is not the canonical encoding of its manifest (fields out of order, repeated or written with default values, non-minimal varints, or fields the Manifest type does not carry); DDS accepts only the canonical encoding so that each content has one manifest CID')
  }
  return manifest
}

function decodeMessage (bytes: Uint8Array): ContentManifestMessage {
  const reader = protobuf.Reader.create(bytes)
  // Keep unknown fields (on this reader only) so they can be named in the error.
  reader.discardUnknown = false
  let message: ContentManifestMessage
  try {
    message = pb.ContentManifest.decode(reader)
  } catch (err) {
    throw new InvalidInputError(`manifest block is not a valid ContentManifest protobuf: ${(err as Error).message}`, { cause: err })
  }
  for (const raw of message.$unknowns ?? []) {
    const field = fieldNumber(raw)
    if (field <= KNOWN_MANIFEST_FIELDS) {
      // a known field number with a wire type it cannot have
      throw new InvalidInputError(`invalid manifest: field ${field} has the wrong wire type`)
    }
  }
  return message
}

/** Highest field number of ContentManifest this version knows. */
const KNOWN_MANIFEST_FIELDS = 8

function fieldNumber (raw: Uint8Array): number {
  try {
    return protobuf.Reader.create(raw).uint32() >>> 3
  } catch {
    return 0
  }
}

/** Whether a block is a DDS manifest, one `decodeManifest` accepts (a data chunk is not). */
export function isManifestBlock (bytes: Uint8Array): boolean {
  try {
    decodeManifest(bytes)
    return true
  } catch {
    return false
  }
}

/**
 * Encodes one node of a manifest tree: a run of chunk CIDs.
 *
 * @throws {InvalidInputError} for an empty run, more than MAX_CHUNKS_PER_NODE CIDs, or a CID that is not a DDS CID
 */
export function encodeManifestNode (chunkCids: CID[]): Uint8Array {
  if (chunkCids.length === 0 || chunkCids.length > MAX_CHUNKS_PER_NODE) {
    throw new InvalidInputError(`a manifest node lists 1 to ${MAX_CHUNKS_PER_NODE} chunk CIDs, got ${chunkCids.length}`)
  }
  const encoded = pb.ManifestNode.encode({ chunkCids: chunkCids.map((cid, i) => decodeChunkCid(cid.bytes, i).bytes) }).finish()
  return new Uint8Array(encoded)
}

/**
 * Decodes one node of a manifest tree and checks it lists exactly `expected` chunk CIDs.
 *
 * @throws {InvalidInputError} when the block is too large, does not decode, is not canonical or lists another number of valid CIDs
 */
export function decodeManifestNode (bytes: Uint8Array, expected: number): CID[] {
  if (bytes.byteLength > MAX_MANIFEST_BLOCK_SIZE) {
    throw new InvalidInputError(`manifest node of ${bytes.byteLength} bytes is larger than the limit of ${MAX_MANIFEST_BLOCK_SIZE} bytes`)
  }
  let message: ReturnType<typeof pb.ManifestNode.decode>
  try {
    message = pb.ManifestNode.decode(bytes)
  } catch (err) {
    throw new InvalidInputError(`manifest node is not a valid ManifestNode protobuf: ${(err as Error).message}`, { cause: err })
  }
  if (message.chunkCids.length !== expected) {
    throw new InvalidInputError(`manifest node lists ${message.chunkCids.length} chunk CID(s) where its manifest implies ${expected}`)
  }
  const cids = message.chunkCids.map(decodeChunkCid)
  if (!equals(encodeManifestNode(cids), bytes)) {
    throw new InvalidInputError('manifest node is not the canonical encoding of its chunk list')
  }
  return cids
}

function decodeChunkCid (bytes: Uint8Array, index: number): CID {
  if (bytes.byteLength !== CID_BYTE_LENGTH) {
    throw new InvalidInputError(`manifest chunk CID ${index} is ${bytes.byteLength} bytes; a binary DDS CID is ${CID_BYTE_LENGTH} bytes`)
  }
  try {
    return parseCid(bytes)
  } catch (err) {
    throw new InvalidInputError(`manifest chunk CID ${index} is not a DDS CID: ${(err as Error).message}`, { cause: err })
  }
}
