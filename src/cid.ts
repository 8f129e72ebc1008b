/**
 * The one place that knows the CID rules of DDS.
 *
 * Every block (a data chunk or a manifest block) is named by a CIDv1 with the
 * `raw` codec (0x55) and a sha2-256 multihash of its bytes. Its string form is
 * base58btc (`z...`); any multibase the `multiformats` package knows (base32
 * `b...` included) is accepted on input.
 *
 * @module
 */

import { createHash } from 'node:crypto'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { base58btc } from 'multiformats/bases/base58'
import { base32 } from 'multiformats/bases/base32'
import { base36 } from 'multiformats/bases/base36'
import { equals } from 'multiformats/bytes'
import { InvalidInputError } from './errors.js'
import type { MultihashDigest } from 'multiformats/hashes/interface'

export { CID }

/**
 * Size of every chunk but the last, in bytes (256 KiB). Fixed by the DDS
 * content addressing rules: with the raw codec and sha2-256 this yields the
 * same leaf CIDs as `ipfs add --cid-version 1 --raw-leaves --chunker size-262144`.
 */
export const CHUNK_SIZE = 262144

/** Multicodec code of the `raw` codec, used for every DDS block. */
export const RAW_CODE = raw.code
/** Multihash code of sha2-256. */
export const SHA2_256_CODE = sha256.code
/** Length in bytes of a sha2-256 digest. */
export const SHA2_256_LENGTH = 32
/** Length in bytes of a binary DDS CID: version, codec, hash code, digest length, digest. */
export const CID_BYTE_LENGTH = 36

const bases = base58btc.decoder.or(base32.decoder).or(base36.decoder)

/** Anything that may name a block: a CID, its string form, or its binary form. */
export type CIDLike = CID | string | Uint8Array

function checkShape (cid: CID, shownAs: string | (() => string)): CID {
  // The text is made only for an error (see cidKey for why it matters).
  const shown = (): string => typeof shownAs === 'string' ? shownAs : shownAs()
  if (cid.version !== 1) {
    throw new InvalidInputError(`${shown()} is a CIDv${cid.version}; DDS uses CIDv1 only`)
  }
  if (cid.code !== RAW_CODE) {
    throw new InvalidInputError(`${shown()} has codec 0x${cid.code.toString(16)}; DDS blocks use the raw codec (0x55)`)
  }
  if (cid.multihash.code !== SHA2_256_CODE || cid.multihash.size !== SHA2_256_LENGTH) {
    throw new InvalidInputError(`${shown()} is not hashed with sha2-256; DDS blocks are named by their SHA-256`)
  }
  return cid
}

/**
 * Parses and validates a CID given as a string, binary bytes or a CID object.
 *
 * @throws {InvalidInputError} when the value is not a CIDv1 with the raw codec and a sha2-256 multihash
 */
export function parseCid (value: CIDLike): CID {
  if (typeof value === 'string') {
    const text = value.trim()
    if (text.length === 0 || text.length > 200) {
      throw new InvalidInputError(`"${text.slice(0, 64)}" is not a CID: expected a CIDv1 string such as z... or b...`)
    }
    let cid: CID
    try {
      cid = CID.parse(text, bases)
    } catch (err) {
      throw new InvalidInputError(whyNotCid(text), { cause: err })
    }
    return checkShape(cid, `"${text}"`)
  }
  if (value instanceof Uint8Array) {
    let cid: CID
    try {
      cid = CID.decode(value)
    } catch (err) {
      throw new InvalidInputError(`${value.byteLength} bytes are not a binary CID: ${(err as Error).message}`, { cause: err })
    }
    return checkShape(cid, 'binary CID')
  }
  const cid = CID.asCID(value)
  if (cid == null) {
    throw new InvalidInputError('expected a CID, its string or its binary form')
  }
  return checkShape(cid, () => cid.toString(base58btc))
}

/** The bases a CID string may use: its multibase prefix, name and alphabet. */
const BASES = {
  z: { name: 'base58btc', alphabet: /^[1-9A-HJ-NP-Za-km-z]*$/, rule: 'base58btc has no 0, O, I or l' },
  b: { name: 'base32', alphabet: /^[a-z2-7]*$/, rule: 'base32 is lowercase a-z and 2-7' },
  k: { name: 'base36', alphabet: /^[0-9a-z]*$/, rule: 'base36 is lowercase a-z and 0-9' }
} as const

/** Length of a DDS CID string in each base (the digest's value does not change it). */
const CID_LENGTH = {
  z: cidForBlock(new Uint8Array()).toString(base58btc).length,
  b: cidForBlock(new Uint8Array()).toString(base32).length,
  k: cidForBlock(new Uint8Array()).toString(base36).length
}

/**
 * Why a string that `CID.parse` refused is not a CID, in words a user can
 * act on: the decoder's own message ("Invalid CID version 5" for a CID cut
 * short) describes the bytes it happened to read, not the mistake.
 */
function whyNotCid (text: string): string {
  const shown = `"${text.slice(0, 64)}"`
  const prefix = text[0] as keyof typeof BASES
  const base = BASES[prefix]
  if (base == null) {
    return `${shown} is not a CID: a DDS CID is a CIDv1 string that starts with z (base58btc, such as zb2rh...) or b (base32, such as bafkrei...)`
  }
  if (!base.alphabet.test(text.slice(1))) {
    return `${shown} is not a valid CID: it has a character ${base.name} does not use (${base.rule}); check it for a typo`
  }
  const expected = CID_LENGTH[prefix]
  if (text.length < expected) {
    return `${shown} is not a valid CID: it is cut short (${text.length} characters where a DDS CID in ${base.name} has ${expected}); copy the whole CID`
  }
  if (text.length > expected) {
    return `${shown} is not a valid CID: it is too long (${text.length} characters where a DDS CID in ${base.name} has ${expected}); check for characters pasted with it`
  }
  return `${shown} is not a valid CID: it does not decode as one (a mistyped character?); copy it again`
}

/**
 * A string that stands for a CID as a map key: its binary form, one
 * character per byte. Not `cid.toString()`, which caches the text it makes
 * on the CID object (as a rope of ~50 pieces for base58): every CID a
 * manifest lists would then carry ~1.5 KB for as long as the manifest lives.
 */
export function cidKey (cid: CID): string {
  return Buffer.from(cid.bytes.buffer, cid.bytes.byteOffset, cid.bytes.byteLength).toString('latin1')
}

/** The canonical string form of a CID: base58btc (`z...`). */
export function cidToString (cid: CID): string {
  return cid.toString(base58btc)
}

/** Computes the CID of a block: CIDv1, raw, sha2-256 of `bytes`. */
export function cidForBlock (bytes: Uint8Array): CID {
  return CID.createV1(RAW_CODE, sha256Digest(bytes))
}

/** True when `bytes` hash to the digest in `cid`. */
export function blockMatchesCid (cid: CID, bytes: Uint8Array): boolean {
  return piecesMatchCid(cid, [bytes])
}

/**
 * True when the block made of `pieces`, in order, hashes to the digest in
 * `cid`: `blockMatchesCid` for a block that arrived in pieces, without
 * joining them. Hashes with node:crypto, which `multiformats`' sha2-256
 * uses on Node.js too.
 */
export function piecesMatchCid (cid: CID, pieces: Iterable<Uint8Array>): boolean {
  if (cid.multihash.code !== SHA2_256_CODE) {
    return false
  }
  const hash = createHash('sha256')
  for (const piece of pieces) {
    hash.update(piece)
  }
  return equals(hash.digest(), cid.multihash.digest)
}

function sha256Digest (bytes: Uint8Array): MultihashDigest<typeof SHA2_256_CODE> {
  const digest = sha256.digest(bytes)
  if (digest instanceof Promise) {
    throw new Error('sha2-256 hashing must be synchronous (DDS runs on Node.js)')
  }
  return digest
}

