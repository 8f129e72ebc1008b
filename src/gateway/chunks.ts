import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { CID } from 'multiformats/cid'
import { blockMatchesCid, cidToString, parseCid } from '../cid.js'
import { IntegrityError, InvalidInputError } from '../errors.js'
import { CHUNK_SIZE } from '../chunker/index.js'
import { chunkCount, decodeManifestNode, nodeChunkCount, nodeOf, verifyManifestBlock, type Manifest } from '../manifest/index.js'
import { API_PREFIX, MAX_CHUNK_LIST } from './constants.js'
import { clientSignal, normalizeCid, single, statWithin, type QueryValue } from './request.js'
import type { GatewayNode } from './types.js'

/** What `GET /api/v1/chunks/<cid>` answers. */
export interface ChunkListJson {
  /** The manifest CID, base58btc. */
  cid: string
  /** Content size in bytes. */
  size: number
  /** SHA-256 of the whole content, lowercase hex. */
  sha256: string
  /** Chunks of the whole content. */
  chunks: number
  /** Index of the first chunk listed. */
  from: number
  /** CIDs (base58btc) of chunks `from` to `from + cids.length - 1`. */
  cids: string[]
}

/** What the chunk list route needs. */
export interface ChunkRouteInit {
  node: GatewayNode
  notFoundTimeoutMs: number
}

/**
 * A block of the content's manifest (the root or a tree node) from the
 * store. One not held here yet is fetched the way a retrieval with
 * `store: true` fetches it, which keeps it in the store unpinned (the next
 * `gc` removes it): for the root, a zero-length read; for a tree node, a
 * one-byte read of the first chunk it lists.
 */
async function manifestBlock (node: GatewayNode, root: CID, block: CID, offset: number, signal: AbortSignal): Promise<Uint8Array> {
  let bytes = await node.storage.get(block, { signal })
  if (bytes == null || !blockMatchesCid(block, bytes)) {
    const length = block.equals(root) ? 0 : 1
    for await (const _ of node.retrieve(root, { offset, length, store: true, signal })) {}
    bytes = await node.storage.get(block, { signal })
  }
  if (bytes == null || !blockMatchesCid(block, bytes)) {
    throw new IntegrityError(`the manifest block ${cidToString(block)} of ${cidToString(root)} is not in this node's store after it was fetched`)
  }
  return bytes
}

/** CIDs of chunks `from` to `from + count - 1` of content described by `manifest`. */
async function chunkCids (node: GatewayNode, root: CID, manifest: Manifest, from: number, count: number, signal: AbortSignal): Promise<CID[]> {
  if (manifest.children == null) {
    return manifest.chunkCids.slice(from, from + count)
  }
  const cids: CID[] = []
  for (let index = from; index < from + count;) {
    const { node: n, position } = nodeOf(manifest, index)
    const bytes = await manifestBlock(node, root, manifest.children[n]!, index * CHUNK_SIZE, signal)
    const listed = decodeManifestNode(bytes, nodeChunkCount(manifest, n))
    const taken = listed.slice(position, position + from + count - index)
    cids.push(...taken)
    index += taken.length
  }
  return cids
}

function nonNegativeInt (name: string, value: QueryValue, fallback: number): number {
  const text = single(value)
  if (text == null) {
    return fallback
  }
  if (!/^\d{1,15}$/.test(text)) {
    throw new InvalidInputError(`${name} must be a non-negative integer, got "${text.slice(0, 20)}"`)
  }
  return Number(text)
}

/**
 * `GET /api/v1/chunks/<cid>?from=<index>&count=<n>`: the size, whole-content
 * SHA-256 and chunk CIDs of content, read from its manifest (fetched if
 * needed), so that a client holding part of the content (an interrupted
 * download) can check what it holds chunk by chunk and ask only for the
 * rest. At most MAX_CHUNK_LIST CIDs per request; `from` past the last chunk
 * lists none.
 */
export function chunkRoute (app: FastifyInstance, init: ChunkRouteInit): void {
  const { node, notFoundTimeoutMs } = init
  app.get(`${API_PREFIX}/chunks/:cid`, async (request: FastifyRequest<{ Params: { cid: string }, Querystring: Record<string, QueryValue> }>, reply): Promise<ChunkListJson> => {
    const text = normalizeCid(request.params.cid)
    const from = nonNegativeInt('from', request.query.from, 0)
    const count = Math.min(nonNegativeInt('count', request.query.count, MAX_CHUNK_LIST), MAX_CHUNK_LIST)
    const signal = clientSignal(reply)
    // finds the manifest within the gateway's not-found wait, as every route does
    await statWithin(node, text, notFoundTimeoutMs, signal, false)
    const root = parseCid(text)
    const manifest = verifyManifestBlock(root, await manifestBlock(node, root, root, 0, signal))
    const total = chunkCount(manifest.size)
    const first = Math.min(from, total)
    const cids = await chunkCids(node, root, manifest, first, Math.min(count, total - first), signal)
    return {
      cid: text,
      size: manifest.size,
      sha256: Buffer.from(manifest.sha256).toString('hex'),
      chunks: total,
      from: first,
      cids: cids.map(cidToString)
    }
  })
}
