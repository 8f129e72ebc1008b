import type { CID } from 'multiformats/cid'
import { cidToString } from '../cid.js'
import { IntegrityError, NotFoundError } from '../errors.js'

/**
 * Why each peer asked for one block failed, kept to explain the error a
 * retrieval ends with when no peer delivers the block.
 */
export class Failures {
  private readonly reasons: string[] = []
  private integrity = false

  /** Records that `peer` (its string form) failed with `err`. */
  add (peer: string, err: Error): void {
    this.integrity ||= err instanceof IntegrityError
    this.reasons.push(`${peer}: ${err.name}`)
  }

  /** True once a peer sent bytes that did not match the block's CID. */
  get sawIntegrityError (): boolean {
    return this.integrity
  }

  /** The peers tried and how each failed, for an error message. */
  describe (): string {
    return this.reasons.length === 0 ? 'no provider was found' : `tried ${this.reasons.join(', ')}`
  }
}

/**
 * The error for a block that no peer delivered. A peer that sent wrong bytes
 * makes it an IntegrityError (someone answered, but nobody truthfully);
 * otherwise it is a NotFoundError that says what to check. Both name the
 * peers tried and how each failed.
 */
export function unavailableError (cid: CID, failures?: Failures): IntegrityError | NotFoundError {
  const tried = failures?.describe() ?? 'no provider was found'
  if (failures?.sawIntegrityError === true) {
    return new IntegrityError(`no peer sent valid bytes for ${cidToString(cid)} (${tried})`)
  }
  return new NotFoundError(`no reachable peer holds ${cidToString(cid)} (${tried}); check that a node holding it is online and connected to this network`)
}
