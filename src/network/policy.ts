import type { PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import { InvalidInputError } from '../errors.js'

/**
 * Which peers may store blocks on this node with StoreChunk.
 *
 * - `'none'` (the default): every StoreChunk is answered REJECTED. A node holds
 *   only what it published or fetched itself; no peer can fill its disk.
 * - `'any'`: any peer may store verified blocks, up to `maxStoredBytes`.
 * - an array of peer id strings: only those peers may store, up to `maxStoredBytes`.
 * - a function: asked for every request with the sender, the CID and the size;
 *   a thrown error counts as a refusal.
 */
export type StorePolicy =
  | 'none'
  | 'any'
  | string[]
  | ((peer: PeerId, cid: CID, size: number) => boolean | Promise<boolean>)

/** The StoreChunk policy of a node that is given none. */
export const DEFAULT_STORE_POLICY: StorePolicy = 'none'

/** The shape every peer policy shares: none, any, a list of peer ids, or a function asked per request. */
type PeerPolicy<Args extends unknown[]> = 'none' | 'any' | string[] | ((peer: PeerId, ...args: Args) => boolean | Promise<boolean>)

function validatePeerPolicy<P> (policy: unknown, name: string): P {
  if (policy === 'none' || policy === 'any' || typeof policy === 'function') {
    return policy as P
  }
  if (Array.isArray(policy) && policy.every(p => typeof p === 'string')) {
    return policy as P
  }
  throw new InvalidInputError(`${name} must be 'none', 'any', an array of peer id strings or a function`)
}

async function peerPolicyAllows<Args extends unknown[]> (policy: PeerPolicy<Args>, peer: PeerId, ...args: Args): Promise<boolean> {
  if (policy === 'none') {
    return false
  }
  if (policy === 'any') {
    return true
  }
  if (Array.isArray(policy)) {
    return policy.includes(peer.toString())
  }
  try {
    return (await policy(peer, ...args)) === true
  } catch {
    return false
  }
}

/** Checks a policy value given by a caller. */
export function validateStorePolicy (policy: unknown): StorePolicy {
  return validatePeerPolicy<StorePolicy>(policy, 'storePolicy')
}

/** True when the policy lets `peer` store this block. */
export async function storeAllowed (policy: StorePolicy, peer: PeerId, cid: CID, size: number): Promise<boolean> {
  return peerPolicyAllows(policy, peer, cid, size)
}

/**
 * Which peers may list this node's catalog (the content it shares) with a
 * CatalogRequest. Others are answered REJECTED.
 *
 * - `'any'` (the default): every peer.
 * - `'none'`: no peer.
 * - an array of peer id strings: only those peers.
 * - a function: asked with the requesting peer; a thrown error counts as a refusal.
 */
export type CatalogPolicy =
  | 'none'
  | 'any'
  | string[]
  | ((peer: PeerId) => boolean | Promise<boolean>)

/** The catalog policy of a node that is given none. */
export const DEFAULT_CATALOG_POLICY: CatalogPolicy = 'any'

/** Checks a catalog policy given by a caller. */
export function validateCatalogPolicy (policy: unknown): CatalogPolicy {
  return validatePeerPolicy<CatalogPolicy>(policy, 'catalogPolicy')
}

/** True when the policy lets `peer` list the catalog. */
export async function catalogAllowed (policy: CatalogPolicy, peer: PeerId): Promise<boolean> {
  return peerPolicyAllows(policy, peer)
}
