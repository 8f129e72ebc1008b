import type { PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import { blockMatchesCid, cidToString, parseCid } from '../cid.js'
import { Status, type RequestMessage, type ResponseProps } from '../pb/index.js'
import type { StorageProvider } from '../storage/index.js'
import { catalogAllowed, storeAllowed, type CatalogPolicy, type StorePolicy } from './policy.js'
import { DEFAULT_CATALOG_PAGE_SIZE, MAX_CATALOG_PAGE_BYTES, MAX_CATALOG_PAGE_SIZE, PENALTY_WRONG_BYTES } from './constants.js'
import { encodeCatalogEntry, type CatalogItem } from './catalog.js'
import type { PeerScores } from './scores.js'
import type PQueue from 'p-queue'
import { raceSignal, runInTurn } from '../signals.js'

type ResponseInit = ResponseProps

/** The arm of a request's `body` oneof (undefined when it has none). */
export type RequestKind = RequestMessage['body']

/** A status and error text, the body of every kind of response. */
export interface StatusBody {
  status: Status
  error?: string
}

/** What the request handlers need from the node. */
export interface HandlerContext {
  storage: StorageProvider
  scores: PeerScores
  storePolicy: StorePolicy
  maxBlockSize: number
  maxStoredBytes: number
  /**
   * Runs accepted StoreChunks one at a time, so the store-size check and the
   * write of one cannot interleave with another's (concurrent stores would
   * otherwise all see the same size and together overshoot `maxStoredBytes`).
   * A p-queue of concurrency 1, used through `runInTurn`.
   */
  storeQueue: PQueue
  /** Told about every block a peer stored here (DDS announces it). */
  onBlockStored?(cid: CID, from: PeerId): void
  /** Handles a ReplicationInstruction; without it they are answered REJECTED. */
  onReplicate?(cid: CID, sources: Uint8Array[], from: PeerId, signal: AbortSignal): Promise<{ status: Status, error?: string }>
  /** Counts blocks answered OK to RetrieveChunk, and their bytes. */
  served: { blocks: number, bytes: number }
  /** Who may list the catalog. */
  catalogPolicy: CatalogPolicy
  /** Lists up to `limit` catalog items after `after`; without it CatalogRequests are answered REJECTED. */
  onCatalog?(after: CID | undefined, limit: number, signal: AbortSignal): Promise<{ items: CatalogItem[], more: boolean }>
}

function parseRequestCid (bytes: Uint8Array | null | undefined): CID | string {
  try {
    return parseCid(bytes ?? new Uint8Array(0))
  } catch (err) {
    return (err as Error).message
  }
}

async function retrieveChunk (req: NonNullable<RequestMessage['retrieveChunk']>, ctx: HandlerContext, signal: AbortSignal): Promise<ResponseInit> {
  const cid = parseRequestCid(req.cid)
  if (typeof cid === 'string') {
    return { retrieveChunk: { status: Status.INVALID, error: cid } }
  }
  const data = await ctx.storage.get(cid, { signal })
  if (data == null) {
    return { retrieveChunk: { status: Status.NOT_FOUND, error: `${cidToString(cid)} is not held by this node` } }
  }
  ctx.served.blocks++
  ctx.served.bytes += data.byteLength
  return { retrieveChunk: { status: Status.OK, data } }
}

async function storeChunk (req: NonNullable<RequestMessage['storeChunk']>, peer: PeerId, ctx: HandlerContext, signal: AbortSignal): Promise<ResponseInit> {
  const reply = (status: Status, error?: string): ResponseInit => ({ storeChunk: { status, error: error ?? '' } })
  const cid = parseRequestCid(req.cid)
  if (typeof cid === 'string') {
    return reply(Status.INVALID, cid)
  }
  const data = req.data ?? new Uint8Array(0)
  if (data.byteLength > ctx.maxBlockSize) {
    return reply(Status.INVALID, `block of ${data.byteLength} bytes exceeds the ${ctx.maxBlockSize}-byte limit`)
  }
  if (!(await storeAllowed(ctx.storePolicy, peer, cid, data.byteLength))) {
    return reply(Status.REJECTED, `this node does not accept blocks from ${peer.toString()} (store policy)`)
  }
  if (!blockMatchesCid(cid, data)) {
    ctx.scores.penalise(peer.toString(), PENALTY_WRONG_BYTES, `sent bytes that do not match ${cidToString(cid)}`)
    return reply(Status.INVALID, `the bytes do not hash to ${cidToString(cid)}`)
  }
  return runInTurn(ctx.storeQueue, async () => {
    if (await ctx.storage.has(cid, { signal })) {
      return reply(Status.OK)
    }
    const stats = await ctx.storage.stats({ signal })
    if (stats.bytes + data.byteLength > ctx.maxStoredBytes) {
      return reply(Status.REJECTED, `this node's store is full (${ctx.maxStoredBytes} bytes)`)
    }
    await ctx.storage.put(cid, data, { signal })
    ctx.onBlockStored?.(cid, peer)
    return reply(Status.OK)
  }, signal, 'a queued StoreChunk')
}

async function replicate (req: NonNullable<RequestMessage['replicate']>, peer: PeerId, ctx: HandlerContext, signal: AbortSignal): Promise<ResponseInit> {
  const cid = parseRequestCid(req.cid)
  if (typeof cid === 'string') {
    return { replicate: { status: Status.INVALID, error: cid } }
  }
  if (ctx.onReplicate == null) {
    return { replicate: { status: Status.REJECTED, error: 'this node does not take replication instructions' } }
  }
  const result = await ctx.onReplicate(cid, req.sourcePeerIds ?? [], peer, signal)
  return { replicate: { status: result.status, error: result.error ?? '' } }
}

async function catalog (req: NonNullable<RequestMessage['catalog']>, peer: PeerId, ctx: HandlerContext, signal: AbortSignal): Promise<ResponseInit> {
  const reply = (status: Status, error: string): ResponseInit => ({ catalog: { status, error } })
  let after: CID | undefined
  if (req.after != null && req.after.byteLength > 0) {
    const parsed = parseRequestCid(req.after)
    if (typeof parsed === 'string') {
      return reply(Status.INVALID, `after: ${parsed}`)
    }
    after = parsed
  }
  if (ctx.onCatalog == null || !(await catalogAllowed(ctx.catalogPolicy, peer))) {
    return reply(Status.REJECTED, 'this node does not share its catalog with you (catalog policy)')
  }
  const limit = Math.min(req.limit != null && req.limit > 0 ? req.limit : DEFAULT_CATALOG_PAGE_SIZE, MAX_CATALOG_PAGE_SIZE)
  const page = await ctx.onCatalog(after, limit, signal)
  const entries = []
  let bytes = 0
  let more = page.more
  for (const item of page.items.slice(0, limit)) {
    const entry = encodeCatalogEntry(item)
    bytes += entry.size
    if (bytes > MAX_CATALOG_PAGE_BYTES && entries.length > 0) {
      more = true
      break
    }
    entries.push(entry.props)
  }
  if (entries.length < Math.min(page.items.length, limit)) {
    more = true
  }
  return { catalog: { status: Status.OK, error: '', entries, more } }
}

async function answer (req: RequestMessage, peer: PeerId, ctx: HandlerContext, signal: AbortSignal): Promise<ResponseInit> {
  switch (req.body) {
    case 'retrieveChunk':
      return retrieveChunk(req.retrieveChunk!, ctx, signal)
    case 'storeChunk':
      return storeChunk(req.storeChunk!, peer, ctx, signal)
    case 'replicate':
      return replicate(req.replicate!, peer, ctx, signal)
    case 'catalog':
      return catalog(req.catalog!, peer, ctx, signal)
    default:
      return { error: { status: Status.INVALID, error: 'request has no body this node understands' } }
  }
}

/**
 * Answers one decoded request. Never throws and never outlives `signal`: a
 * failure, or work (a storage call, `onReplicate`) still running when the
 * signal aborts, becomes a response with status ERROR, so one bad or slow
 * request cannot take the stream down or hold its slot. Work left running
 * is told through `signal`.
 */
export async function handleRequest (req: RequestMessage, peer: PeerId, ctx: HandlerContext, signal: AbortSignal): Promise<ResponseInit> {
  try {
    return { ...(await raceSignal(answer(req, peer, ctx, signal), signal, 'the request')), id: req.id }
  } catch (err) {
    const message = signal.aborted ? 'the request ran past its deadline' : `internal error: ${(err as Error).message}`
    return responseFor(req.body, req.id, { status: Status.ERROR, error: message })
  }
}

/** The response of the kind that matches `kind` (the `error` arm when the request had no known body). */
export function responseFor (kind: RequestKind | undefined, id: RequestMessage['id'] | null, body: StatusBody): ResponseInit {
  const arm = { status: body.status, error: body.error ?? '' }
  switch (kind) {
    case 'retrieveChunk': return { id, retrieveChunk: arm }
    case 'storeChunk': return { id, storeChunk: arm }
    case 'replicate': return { id, replicate: arm }
    case 'catalog': return { id, catalog: arm }
    default: return { id, error: arm }
  }
}

/** A response saying the node is too busy, of the kind that matches the request. */
export function busyResponse (req: RequestMessage, reason = 'this node is at its request limit, retry later'): ResponseInit {
  return responseFor(req.body, req.id, { status: Status.BUSY, error: reason })
}
