/**
 * Checks, at the store's edge, that callers pass a CID and bytes.
 *
 * @module
 */

import { CID } from 'multiformats/cid'
import { InvalidInputError } from '../errors.js'
import { cidKey } from '../cid.js'
import type { Block } from './index.js'

/** Returns `value` as a CID, or throws `InvalidInputError`. */
export function assertCid (value: unknown, what: string): CID {
  const cid = CID.asCID(value)
  if (cid == null) {
    throw new InvalidInputError(`${what} needs a CID object; parse strings with parseCid() first`)
  }
  return cid
}

/** Returns `value` as bytes, or throws `InvalidInputError`. */
export function assertBytes (value: unknown, what: string): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new InvalidInputError(`${what} needs the block bytes as a Uint8Array`)
  }
  return value
}

/**
 * Validates every block of a batch before anything is written and drops
 * repeats of the same CID, so a batch either is valid as a whole or writes
 * nothing.
 */
export function collectBlocks (blocks: Iterable<Block>, what: string): Block[] {
  if (typeof (blocks as Partial<Iterable<Block>> | undefined)?.[Symbol.iterator] !== 'function') {
    throw new InvalidInputError(`${what} needs an iterable of { cid, bytes } blocks`)
  }
  const unique = new Map<string, Block>()
  for (const block of blocks) {
    const cid = assertCid(block?.cid, what)
    const bytes = assertBytes(block.bytes, what)
    unique.set(cidKey(cid), { cid, bytes })
  }
  return [...unique.values()]
}
