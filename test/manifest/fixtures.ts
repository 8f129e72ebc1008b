/** Hand-written manifest bytes and helpers shared by the manifest tests. */

import { CID } from 'multiformats/cid'
import { create as createDigest } from 'multiformats/hashes/digest'

/** Bytes from a hex string (spaces allowed, for readability). */
export function fromHex (text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text.replace(/\s+/g, ''), 'hex'))
}

/** Hex of bytes. */
export function toHex (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

/** SHA-256 of "abc" (FIPS 180-2 test vector). */
export const ABC_SHA256 = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
/** SHA-256 of the empty string. */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
/** Binary CID of the block "abc": CIDv1 (01), raw (55), sha2-256 (12), 32 bytes (20), digest. */
export const ABC_CID = '01551220' + ABC_SHA256

/**
 * The canonical manifest of the 3-byte content "abc", written by hand from
 * the protobuf wire format:
 *   0a 24 <36-byte CID>   field 1 (chunk_cids), wire type 2, length 36
 *   12 20 <32-byte sha>   field 2 (original_content_sha256), wire type 2, length 32
 *   18 03                 field 3 (original_content_size_bytes), wire type 0, varint 3
 */
export const ABC_MANIFEST_HEX = '0a24' + ABC_CID + '1220' + ABC_SHA256 + '1803'

/** A structurally valid DDS CID whose digest is 32 bytes of `fill`. */
export function fakeCid (fill: number): CID {
  return CID.createV1(0x55, createDigest(0x12, new Uint8Array(32).fill(fill)))
}

/** A 32-byte digest of `fill` bytes. */
export function fakeSha (fill: number): Uint8Array {
  return new Uint8Array(32).fill(fill)
}
