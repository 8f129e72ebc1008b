import type { PeerId } from '@libp2p/interface'
import { InvalidInputError } from '../errors.js'

/**
 * Whose content this node holds copies of when asked (ReplicationInstruction):
 * - `'any'` (the default): any peer, within the quota and the per-peer share;
 * - an array of peer id strings: only those peers;
 * - `'none'`: nobody; every instruction is answered REJECTED.
 */
export type ReplicaPolicy = 'any' | 'none' | string[]

export function validateReplicaPolicy (policy: unknown): ReplicaPolicy {
  if (policy === 'any' || policy === 'none') {
    return policy
  }
  if (Array.isArray(policy) && policy.every(p => typeof p === 'string')) {
    return policy
  }
  throw new InvalidInputError("replication.accept must be 'any', 'none' or an array of peer id strings")
}

/** Why a replica is refused, or undefined when the policy and the quota allow it. */
export function refusal (policy: ReplicaPolicy, from: PeerId, size: number, usage: { total: number, fromPeer: number }, limits: { quotaBytes: number, perPeerShare: number }): string | undefined {
  if (policy === 'none') {
    return 'this node holds no replicas for others (replication.accept is none)'
  }
  if (Array.isArray(policy) && !policy.includes(from.toString())) {
    return `this node holds replicas only for the peers on its allow list, not for ${from.toString()}`
  }
  if (usage.total + size > limits.quotaBytes) {
    return `a replica of ${size} bytes would exceed this node's replica quota (${usage.total} of ${limits.quotaBytes} bytes used)`
  }
  const share = Math.floor(limits.quotaBytes * limits.perPeerShare)
  if (usage.fromPeer + size > share) {
    return `a replica of ${size} bytes would exceed the share of the quota one peer may use (${usage.fromPeer} of ${share} bytes used by ${from.toString()})`
  }
  return undefined
}
