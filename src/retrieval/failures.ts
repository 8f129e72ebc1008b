import type { CID } from 'multiformats/cid'
import { cidToString } from '../cid.js'
import { BusyError, IntegrityError, NoDirectPathError, NotFoundError } from '../errors.js'

/**
 * Why each peer asked for one block failed, kept to explain the error a
 * retrieval ends with when no peer delivers the block.
 */
export class Failures {
  private readonly reasons: string[] = []
  private integrity = false
  private onlyBusy = true
  private relayedOnly = false

  /** Records that `peer` (its string form) failed with `err`. */
  add (peer: string, err: Error): void {
    this.integrity ||= err instanceof IntegrityError
    this.onlyBusy &&= err instanceof BusyError
    this.relayedOnly ||= err instanceof NoDirectPathError
    this.reasons.push(`${peer}: ${err.name}`)
  }

  /** True once a peer sent bytes that did not match the block's CID. */
  get sawIntegrityError (): boolean {
    return this.integrity
  }

  /** True when peers were tried and every one answered BUSY: the block may well be there. */
  get allBusy (): boolean {
    return this.onlyBusy && this.reasons.length > 0
  }

  /** The peers tried and how each failed, for an error message. */
  describe (): string {
    if (this.reasons.length === 0) {
      return 'no provider was found'
    }
    const tried = `tried ${this.reasons.join(', ')}`
    return this.relayedOnly
      ? `${tried}; NoDirectPathError: that holder is reachable only through a relay and no direct connection to it could be made (both ends behind NATs hole punching cannot pass?), and chunks move only over direct connections`
      : tried
  }
}

/** Where a missing block sits in the content a retrieval was asked for. */
export interface ChunkOf {
  /** The manifest CID the caller asked for. */
  content: CID
  /** The chunk's index in the content. */
  index: number
  /** Chunks of the whole content. */
  chunks: number
}

/**
 * The error for a block that no peer delivered. A peer that sent wrong bytes
 * makes it an IntegrityError (someone answered, but nobody truthfully);
 * otherwise it is a NotFoundError that says what to check. Both name the
 * peers tried and how each failed. For a chunk of content (`chunk`), the
 * message names the content first: that is the CID the caller knows, and a
 * chunk CID alone would not tell them which of their content is missing.
 * When every peer asked answered BUSY, it is a BusyError: the block was not
 * found missing, its holders were too busy to send it.
 */
export function unavailableError (cid: CID, failures?: Failures, chunk?: ChunkOf): IntegrityError | NotFoundError | BusyError {
  const tried = failures?.describe() ?? 'no provider was found'
  const what = chunk != null
    ? `${cidToString(chunk.content)}: chunk ${chunk.index + 1} of ${chunk.chunks} (${cidToString(cid)})`
    : cidToString(cid)
  if (failures?.allBusy === true) {
    return new BusyError(`every peer asked for ${what} was busy (${tried}); try again later`)
  }
  if (failures?.sawIntegrityError === true) {
    return new IntegrityError(`no peer sent valid bytes for ${what} (${tried})`)
  }
  if (chunk != null) {
    return new NotFoundError(`no reachable peer holds all of ${what} is missing (${tried}); check that a node holding the content is online and connected to this network`)
  }
  return new NotFoundError(`no reachable peer holds ${what} (${tried}); check that a node holding it is online and connected to this network`)
}
