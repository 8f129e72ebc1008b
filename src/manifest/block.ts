/**
 * Manifest blocks: the encoded manifest together with its CID.
 *
 * @module
 */

import { blockMatchesCid, cidForBlock, cidToString, parseCid, type CID } from '../cid.js'
import { IntegrityError, InvalidInputError } from '../errors.js'
import { decodeManifest, encodeManifest, type DecodeManifestOptions } from './codec.js'
import type { Manifest } from './manifest.js'

/** An encoded manifest and the CID that names it (and so the content). */
export interface ManifestBlock {
  /** CIDv1, raw, sha2-256 of `bytes`: the content's CID, as `publish` returns it. */
  cid: CID
  /** The canonical encoding of the manifest. */
  bytes: Uint8Array
}

/**
 * Encodes a manifest and computes its CID.
 *
 * @throws {InvalidInputError} as {@link encodeManifest} does
 */
export function manifestBlock (manifest: Manifest): ManifestBlock {
  const bytes = encodeManifest(manifest)
  return { cid: cidForBlock(bytes), bytes }
}

/**
 * Checks that `bytes` are the block named by `cid`, then decodes the manifest
 * they hold. Use this on every manifest block that comes from outside.
 *
 * @throws {InvalidInputError} when `cid` is not a DDS CID, or the block is not
 * a valid, canonical manifest (see {@link decodeManifest})
 * @throws {IntegrityError} when `bytes` do not hash to `cid`
 */
export function verifyManifestBlock (cid: CID, bytes: Uint8Array, options: DecodeManifestOptions = {}): Manifest {
  const expected = parseCid(cid)
  if (!(bytes instanceof Uint8Array)) {
    throw new InvalidInputError('a manifest block must be a Uint8Array')
  }
  if (!blockMatchesCid(expected, bytes)) {
    throw new IntegrityError(`manifest block does not match its CID ${cidToString(expected)}: the ${bytes.byteLength} bytes hash to ${cidToString(cidForBlock(bytes))}; discard them and fetch the block from another peer`)
  }
  return decodeManifest(bytes, options)
}
