/**
 * The trustless gateway: `GET|HEAD /ipfs/<cid>` answers verifiable responses
 * only, as the IPFS Trustless Gateway specification describes them: one
 * block (`application/vnd.ipld.raw`) or a CAR of the content's blocks
 * (`application/vnd.ipld.car`), each checkable by its client against the
 * CID it asked for. It serves what this node holds: a block or content not
 * in its store is a 404 (it is not fetched from peers).
 *
 * @module
 */

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { CID } from 'multiformats/cid'
import { blockMatchesCid, cidToString, parseCid } from '../cid.js'
import { IntegrityError, InvalidInputError, NotFoundError } from '../errors.js'
import { CAR_MEDIA_TYPE, carHeader } from '../car/index.js'
import { decodeManifest } from '../manifest/index.js'
import { IMMUTABLE_CACHE_CONTROL, RAW_MEDIA_TYPE, TRUSTLESS_PROBE_CID } from './constants.js'
import { startStream, matchesEtag } from './content.js'
import type { ClientLimits } from './limits.js'
import { clientSignal, single, type QueryValue } from './request.js'
import type { GatewayNode } from './types.js'

/** What the trustless route needs. */
export interface IpfsRouteInit {
  node: GatewayNode
  limits: ClientLimits
}

/** The response a request asks for. */
export interface TrustlessFormat {
  format: 'raw' | 'car'
  /** CAR only: every block of the content (`all`, also for `entity`), or the root block alone (`block`). */
  scope: 'all' | 'block'
  /** CAR only: write a repeated chunk every time (`dups=y`) or once (`dups=n`, the default). */
  duplicates: boolean
  /** True when the format came from the `format` query parameter (else from `Accept`). */
  fromQuery: boolean
}

type Query = Record<string, QueryValue>

const HELP = 'this gateway answers /ipfs/<cid> with verifiable responses only: ask for ?format=raw (the one block the CID names) or ?format=car (the content\'s blocks as a CAR), or send Accept: application/vnd.ipld.raw or application/vnd.ipld.car; /dds/<cid> serves the content itself'

/**
 * The response format of a request: the `format` query parameter, else the
 * first supported media type of `Accept` (by its `q`), with the CAR options
 * of the `car-*` and `dag-scope` query parameters over those of `Accept`.
 *
 * @throws {InvalidInputError} for no supported format, an unsupported format,
 * CAR version, order, dups or dag-scope value, or `entity-bytes`
 */
export function trustlessFormat (query: Query, accept: string | undefined): TrustlessFormat {
  const asked = single(query.format)
  let format: 'raw' | 'car' | undefined
  let params: Record<string, string> = {}
  if (asked != null) {
    if (asked !== 'raw' && asked !== 'car') {
      throw new InvalidInputError(`format "${asked.slice(0, 40)}" is not served here; ${HELP}`)
    }
    format = asked
  }
  const negotiated = negotiate(accept)
  if (format == null) {
    if (negotiated == null) {
      throw new InvalidInputError(`no response format asked for; ${HELP}`)
    }
    format = negotiated.format
  }
  if (negotiated?.format === format) {
    params = negotiated.params
  }
  const version = single(query['car-version']) ?? params.version
  const order = single(query['car-order']) ?? params.order
  const dups = single(query['car-dups']) ?? params.dups
  const scope = single(query['dag-scope']) ?? 'all'
  if (format === 'car') {
    if (version != null && version !== '1') {
      throw new InvalidInputError(`CAR version ${version.slice(0, 20)} is not served here: this gateway writes CARv1 (version=1)`)
    }
    if (order != null && order !== 'dfs' && order !== 'unk') {
      throw new InvalidInputError(`CAR order "${order.slice(0, 20)}" is not served here: this gateway writes blocks depth first (order=dfs)`)
    }
    if (dups != null && dups !== 'y' && dups !== 'n') {
      throw new InvalidInputError(`CAR dups "${dups.slice(0, 20)}" is not valid: use dups=y or dups=n`)
    }
    if (scope !== 'all' && scope !== 'entity' && scope !== 'block') {
      throw new InvalidInputError(`dag-scope "${scope.slice(0, 20)}" is not valid: use block, entity or all`)
    }
    if (query['entity-bytes'] != null) {
      throw new InvalidInputError('entity-bytes is not served here: ask for the whole CAR, or for a byte range of the content itself at /dds/<cid> with a Range header')
    }
  }
  return { format, scope: scope === 'block' ? 'block' : 'all', duplicates: dups === 'y', fromQuery: asked != null }
}

/** The most preferred trustless media type of an Accept header, with its parameters. */
function negotiate (accept: string | undefined): { format: 'raw' | 'car', params: Record<string, string> } | undefined {
  if (accept == null) {
    return undefined
  }
  const offers = accept.split(',').map((item, index) => {
    const [type = '', ...rest] = item.split(';').map(part => part.trim())
    const params: Record<string, string> = {}
    for (const param of rest) {
      const eq = param.indexOf('=')
      if (eq > 0) {
        params[param.slice(0, eq).trim().toLowerCase()] = param.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1')
      }
    }
    const q = params.q != null ? Number(params.q) : 1
    const format = type.toLowerCase() === RAW_MEDIA_TYPE ? 'raw' as const : type.toLowerCase() === CAR_MEDIA_TYPE ? 'car' as const : undefined
    return { format, params, q: Number.isFinite(q) ? q : 0, index }
  }).filter(offer => offer.format != null && offer.q > 0)
  offers.sort((a, b) => b.q - a.q || a.index - b.index)
  const best = offers[0]
  return best != null ? { format: best.format!, params: best.params } : undefined
}

/** The Content-Type of a response in `format`. */
function mediaType (format: TrustlessFormat): string {
  return format.format === 'raw' ? RAW_MEDIA_TYPE : `${CAR_MEDIA_TYPE}; version=1; order=dfs; dups=${format.duplicates ? 'y' : 'n'}`
}

/** A strong ETag: a CID's block, or its CAR (deterministic for a given scope and dups). */
function etagOf (cid: string, format: TrustlessFormat): string {
  return format.format === 'raw' ? `"${cid}.raw"` : `"${cid}.car.${format.scope}.dups-${format.duplicates ? 'y' : 'n'}"`
}

/**
 * `GET|HEAD /ipfs/<cid>`: with `?format=raw` (or `Accept:
 * application/vnd.ipld.raw`) the block `cid` names; with `?format=car` (or
 * `Accept: application/vnd.ipld.car`) a CARv1 rooted at `cid`: for a
 * manifest CID every block of the content (`dag-scope=block`: the manifest
 * alone), for any other block that block. `/ipfs/bafkqaaa`, the empty
 * identity CID, answers the specification's probe. Content responses, as
 * `/dds/<cid>`'s are: counted against the client limits, and their
 * connection closed when the client stops reading.
 */
export function ipfsRoute (app: FastifyInstance, init: IpfsRouteInit): void {
  const { node, limits } = init
  app.route<{ Params: { cid: string }, Querystring: Query }>({
    method: ['GET', 'HEAD'],
    url: '/ipfs/:cid',
    exposeHeadRoute: false,
    handler: async (request: FastifyRequest<{ Params: { cid: string }, Querystring: Query }>, reply: FastifyReply) => {
      if (request.params.cid === TRUSTLESS_PROBE_CID) {
        return probe(reply, trustlessFormat(request.query, request.headers.accept))
      }
      const cid = parseCid(request.params.cid)
      const format = trustlessFormat(request.query, request.headers.accept)
      const text = cidToString(cid)
      if (request.method === 'GET' && !limits.admitContent(request, reply)) {
        return reply
      }
      const etag = etagOf(text, format)
      reply.header('ETag', etag)
      reply.header('Cache-Control', IMMUTABLE_CACHE_CONTROL)
      reply.header('Vary', 'Accept')
      reply.header('X-Content-Type-Options', 'nosniff')
      reply.header('X-Ipfs-Path', `/ipfs/${request.params.cid}`)
      reply.header('X-Ipfs-Roots', request.params.cid)
      reply.header('Content-Disposition', `attachment; filename="${text}.${format.format === 'raw' ? 'bin' : 'car'}"`)
      if (!format.fromQuery) {
        reply.header('Content-Location', `/ipfs/${request.params.cid}?format=${format.format}`)
      }
      if (matchesEtag(request.headers['if-none-match'], etag)) {
        return reply.code(304).send()
      }
      const signal = clientSignal(reply)
      const block = await node.storage.get(cid, { signal })
      if (block == null) {
        throw new NotFoundError(`${text} is not in this node's store; this trustless gateway serves only the blocks this node holds`)
      }
      if (!blockMatchesCid(cid, block)) {
        throw new IntegrityError(`the block ${text} in this node's store does not match its CID: the store is damaged`)
      }
      reply.type(mediaType(format))
      if (format.format === 'raw') {
        reply.header('Content-Length', block.byteLength)
        return reply.send(request.method === 'HEAD' ? undefined : Buffer.from(block.buffer, block.byteOffset, block.byteLength))
      }
      if (request.method === 'HEAD') {
        return reply.send()
      }
      const scope = format.scope === 'all' && isManifest(block) ? 'all' : 'block'
      return reply.send(await startStream(node.exportCar(cid, { scope, duplicates: format.duplicates, signal })))
    }
  })
  // a path under a CID: DDS content has no paths (a manifest names a file, not a directory)
  app.route({
    method: ['GET', 'HEAD'],
    url: '/ipfs/:cid/*',
    exposeHeadRoute: false,
    handler: async () => {
      throw new InvalidInputError('DDS content has no paths: ask for /ipfs/<cid> itself')
    }
  })
}

function isManifest (block: Uint8Array): boolean {
  try {
    decodeManifest(block)
    return true
  } catch {
    return false
  }
}

/**
 * The specification's probe, `/ipfs/bafkqaaa` (the empty identity CID):
 * an empty block, or a CAR whose header names it and that holds no block.
 */
async function probe (reply: FastifyReply, format: TrustlessFormat): Promise<FastifyReply> {
  const body = format.format === 'raw' ? Buffer.alloc(0) : Buffer.from(carHeader([CID.parse(TRUSTLESS_PROBE_CID)]))
  return reply
    .type(mediaType(format))
    .header('Cache-Control', IMMUTABLE_CACHE_CONTROL)
    .header('X-Content-Type-Options', 'nosniff')
    .header('Content-Length', body.byteLength)
    .send(body)
}
