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

/** Checks a policy value given by a caller. */
export function validateStorePolicy (policy: unknown): StorePolicy {
  if (policy === 'none' || policy === 'any' || typeof policy === 'function') {
    return policy as StorePolicy
  }
  if (Array.isArray(policy) && policy.every(p => typeof p === 'string')) {
    return policy
  }
  throw new InvalidInputError("storePolicy must be 'none', 'any', an array of peer id strings or a function")
}

/** True when the policy lets `peer` store this block. */
export async function storeAllowed (policy: StorePolicy, peer: PeerId, cid: CID, size: number): Promise<boolean> {
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
    return (await policy(peer, cid, size)) === true
  } catch {
    return false
  }
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
  if (policy === 'none' || policy === 'any' || typeof policy === 'function') {
    return policy as CatalogPolicy
  }
  if (Array.isArray(policy) && policy.every(p => typeof p === 'string')) {
    return policy
  }
  throw new InvalidInputError("catalogPolicy must be 'none', 'any', an array of peer id strings or a function")
}

/** True when the policy lets `peer` list the catalog. */
export async function catalogAllowed (policy: CatalogPolicy, peer: PeerId): Promise<boolean> {
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
    return (await policy(peer)) === true
  } catch {
    return false
  }
}
