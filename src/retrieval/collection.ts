import type { CID } from 'multiformats/cid'
import { concatBytes } from '../bytes.js'
import { cidToString } from '../cid.js'
import { InvalidInputError, NotFoundError } from '../errors.js'
import { MAX_COLLECTION_BYTES, checkPath, decodeCollection, isCollection, type CollectionEntry } from '../manifest/index.js'
import { LruMap } from '../lru.js'
import { RECENT_COLLECTIONS, RECENT_COLLECTION_ENTRIES } from './constants.js'
import type { RetrievalService, RetrieveOptions } from './index.js'

/**
 * The entries of the collection `cid`, its list fetched (verified like any
 * content) from the store or from peers.
 *
 * @throws {InvalidInputError} when `cid` names content that is not a collection, or whose list is invalid
 * Other errors as for `resolveManifest` and `content`.
 */
export async function collectionEntries (retrieval: Pick<RetrievalService, 'resolveManifest' | 'content'>, cid: CID, options: RetrieveOptions = {}): Promise<CollectionEntry[]> {
  // a player asks for one track after another: the list is fetched once
  let recent = recentLists.get(retrieval)
  if (recent == null) {
    recent = new LruMap(RECENT_COLLECTIONS)
    recentLists.set(retrieval, recent)
  }
  const key = cid.toString()
  const known = recent.get(key)
  if (known != null) {
    return known
  }
  const entries = await fetchEntries(retrieval, cid, options)
  // a large list is not kept: what is kept stays small
  if (entries.length <= RECENT_COLLECTION_ENTRIES) {
    recent.set(key, entries)
  }
  return entries
}

/** Recently listed collections, per retrieval service. */
const recentLists = new WeakMap<object, LruMap<string, CollectionEntry[]>>()

async function fetchEntries (retrieval: Pick<RetrievalService, 'resolveManifest' | 'content'>, cid: CID, options: RetrieveOptions): Promise<CollectionEntry[]> {
  const { offset: _offset, length: _length, ...whole } = options
  const resolved = await retrieval.resolveManifest(cid, whole)
  if (!isCollection(resolved.manifest)) {
    resolved.close()
    throw new InvalidInputError(`${cidToString(cid)} is not a collection (its media type is ${resolved.manifest.mediaType ?? 'not set'}); retrieve it without a path`)
  }
  if (resolved.manifest.size > MAX_COLLECTION_BYTES) {
    resolved.close()
    throw new InvalidInputError(`the collection ${cidToString(cid)} lists ${resolved.manifest.size} bytes of entries, more than ${MAX_COLLECTION_BYTES}`)
  }
  return decodeCollection(await concatBytes(retrieval.content(resolved, whole)))
}

/**
 * The entry at `path` of the collection `cid`.
 *
 * @throws {InvalidInputError} for a bad path, or when `cid` is not a collection
 * @throws {NotFoundError} when the collection has no entry at `path`
 */
export async function collectionEntry (retrieval: Pick<RetrievalService, 'resolveManifest' | 'content'>, cid: CID, path: string, options: RetrieveOptions = {}): Promise<CollectionEntry> {
  checkPath(path)
  const entries = await collectionEntries(retrieval, cid, options)
  const entry = entries.find(e => e.path === path)
  if (entry == null) {
    throw new NotFoundError(`the collection ${cidToString(cid)} has no entry "${path}" (it has ${entries.length}${entries.length > 0 ? `, e.g. "${entries[0]!.path}"` : ''})`)
  }
  return entry
}

/**
 * The bytes a node stores to hold the content `resolved` names: its size,
 * and for a collection its entries' sizes too (its list is fetched).
 */
export async function holdingSize (retrieval: Pick<RetrievalService, 'resolveManifest' | 'content'>, resolved: { cid: CID, manifest: { size: number, mediaType?: string } }, options: RetrieveOptions = {}): Promise<number> {
  if (!isCollection(resolved.manifest)) {
    return resolved.manifest.size
  }
  const entries = await collectionEntries(retrieval, resolved.cid, options)
  return entries.reduce((sum, e) => sum + e.size, resolved.manifest.size)
}
