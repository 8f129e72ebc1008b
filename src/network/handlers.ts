import type { PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import { blockMatchesCid, cidToString, parseCid } from '../cid.js'
import { Status, type RequestMessage, type ResponseProps } from '../pb/index.js'
import type { StorageProvider } from '../storage/index.js'
import { storeAllowed, type StorePolicy } from './policy.js'
import { PENALTY_WRONG_BYTES } from './constants.js'
import type { PeerScores } from './scores.js'

type ResponseInit = ResponseProps

/** What the request handlers need from the node. */
export interface HandlerContext {
  storage: StorageProvider
  scores: PeerScores
  storePolicy: StorePolicy
  maxBlockSize: number
  maxStoredBytes: number
  /** Told about every block a peer stored here (DDS announces it). */
  onBlockStored?(cid: CID, from: PeerId): void
  /** Handles a ReplicationInstruction; without it they are answered REJECTED. */
  onReplicate?(cid: CID, sources: Uint8Array[], from: PeerId, signal: AbortSignal): Promise<{ status: Status, error?: string }>
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

/**
 * Answers one decoded request. Never throws: a failure becomes a response
 * with status ERROR, so one bad request cannot take the stream down.
 */
export async function handleRequest (req: RequestMessage, peer: PeerId, ctx: HandlerContext, signal: AbortSignal): Promise<ResponseInit> {
  const kind = req.body
  try {
    switch (kind) {
      case 'retrieveChunk':
        return { id: req.id, ...(await retrieveChunk(req.retrieveChunk!, ctx, signal)) }
      case 'storeChunk':
        return { id: req.id, ...(await storeChunk(req.storeChunk!, peer, ctx, signal)) }
      case 'replicate':
        return { id: req.id, ...(await replicate(req.replicate!, peer, ctx, signal)) }
      default:
        return { id: req.id, error: { status: Status.INVALID, error: 'request has no body this node understands' } }
    }
  } catch (err) {
    const message = signal.aborted ? 'the request ran past its deadline' : `internal error: ${(err as Error).message}`
    const status = Status.ERROR
    switch (kind) {
      case 'retrieveChunk': return { id: req.id, retrieveChunk: { status, error: message } }
      case 'storeChunk': return { id: req.id, storeChunk: { status, error: message } }
      default: return { id: req.id, replicate: { status, error: message } }
    }
  }
}

/** A response saying the node is too busy, of the kind that matches the request. */
export function busyResponse (req: RequestMessage): ResponseInit {
  const body = { status: Status.BUSY, error: 'this node is at its request limit, retry later' }
  switch (req.body) {
    case 'retrieveChunk': return { id: req.id, retrieveChunk: body }
    case 'storeChunk': return { id: req.id, storeChunk: body }
    case 'replicate': return { id: req.id, replicate: body }
    default: return { id: req.id, error: body }
  }
}
