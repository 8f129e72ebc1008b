import { Readable } from 'node:stream'
import rangeParser from 'range-parser'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { InvalidInputError, NotFoundError } from '../errors.js'
import { checkPath } from '../manifest/index.js'
import { LruMap } from '../lru.js'
import type { ClientLimits } from './limits.js'
import { DESCRIPTION_CACHE_ENTRIES, IMMUTABLE_CACHE_CONTROL } from './constants.js'
import { RangeNotSatisfiableError } from './errors.js'
import { clientSignal, flag, normalizeCid, statWithin, type QueryValue } from './request.js'
import type { ContentStat, GatewayNode } from './types.js'

/** What the content route needs. */
export interface ContentRouteInit {
  node: GatewayNode
  notFoundTimeoutMs: number
  limits: ClientLimits
  /** Chunks one response fetches ahead of its client. */
  window: number
}

/** The bytes a request asks for: the whole content or one range. */
interface Span {
  offset: number
  length: number
  partial: boolean
}

/**
 * The span a Range header asks for, against content of `size` bytes. One
 * `bytes` range gives a partial response; several ranges, or a unit other
 * than bytes, are ignored (the whole content is sent, as RFC 9110 allows).
 *
 * @throws {InvalidInputError} when the header does not parse
 * @throws {RangeNotSatisfiableError} when no byte of the content is in it
 */
export function requestedSpan (size: number, header: string | undefined): Span {
  const whole = { offset: 0, length: size, partial: false }
  if (header == null) {
    return whole
  }
  // RFC 9110 14.1.2: a suffix longer than the content selects all of it
  // (range-parser reports it as unsatisfiable)
  const suffix = /^bytes=\s*-\s*(\d+)\s*$/.exec(header)
  if (suffix != null && size > 0 && Number(suffix[1]) >= size) {
    return { offset: 0, length: size, partial: true }
  }
  const ranges = rangeParser(size, header)
  if (ranges === -2) {
    throw new InvalidInputError(`malformed Range header "${header.slice(0, 100)}"; use bytes=<first>-<last>, bytes=<first>- or bytes=-<suffix length>`)
  }
  if (ranges === -1) {
    throw new RangeNotSatisfiableError(`the Range "${header.slice(0, 100)}" is outside the content (${size} bytes)`)
  }
  if (ranges.type !== 'bytes' || ranges.length !== 1) {
    return whole
  }
  const range = ranges[0]!
  return { offset: range.start, length: range.end - range.start + 1, partial: true }
}

/** True when an If-None-Match header names `etag` (or is `*`). */
export function matchesEtag (header: string | undefined, etag: string): boolean {
  if (header == null) {
    return false
  }
  return header.split(',').some(tag => {
    const t = tag.trim()
    return t === '*' || t === etag || t === `W/${etag}`
  })
}

/** `filename*` of Content-Disposition (RFC 8187): UTF-8, percent-encoded. */
function encodeFilename (name: string): string {
  return encodeURIComponent(name).replace(/['()*]/g, c => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

/**
 * The Content-Type of content: its media type when that is printable ASCII,
 * else `application/octet-stream`. The core accepts any non-control text
 * inside a quoted parameter, which Node refuses in a header (beyond Latin-1)
 * or which a client would read in some other charset; a manifest from any
 * peer must not make its content unservable.
 */
export function contentType (mediaType: string | undefined): string {
  return mediaType != null && /^[\x20-\x7e]+$/.test(mediaType) ? mediaType : 'application/octet-stream'
}

/**
 * Pulls the first piece of the content before the response starts, so that a
 * failure to fetch it (nobody serves the chunks, a bad range) is answered
 * with an error status rather than a truncated body.
 */
export async function startStream (source: AsyncIterable<Uint8Array>): Promise<Readable> {
  const iterator = source[Symbol.asyncIterator]()
  const first = await iterator.next()
  async function * rest (): AsyncGenerator<Uint8Array> {
    try {
      if (first.done !== true) {
        yield first.value
        while (true) {
          const next = await iterator.next()
          if (next.done === true) {
            return
          }
          yield next.value
        }
      }
    } finally {
      await iterator.return?.()
    }
  }
  return Readable.from(rest(), { objectMode: false })
}

/** What the content route serves of a manifest. */
type Description = Pick<ContentStat, 'size' | 'name' | 'mediaType'>

/**
 * `GET|HEAD /dds/<cid>`: the content, verified as it streams, with one byte
 * range per request (`Range: bytes=...`) fetching only the chunks that cover
 * it. The client closing the connection aborts the retrieval.
 *
 * `GET|HEAD /dds/<cid>/<path>`: the entry at `path` of the collection `cid`
 * (a track of an album, a file of a folder), served the same way.
 */
export function contentRoute (app: FastifyInstance, init: ContentRouteInit): void {
  const { node, notFoundTimeoutMs, limits, window } = init
  // the most recently used descriptions, and entry CIDs by collection and path
  const descriptions = new LruMap<string, Description>(DESCRIPTION_CACHE_ENTRIES)
  const entries = new LruMap<string, string>(DESCRIPTION_CACHE_ENTRIES)
  const describe = async (cid: string, signal: AbortSignal): Promise<Description> => {
    let found = descriptions.get(cid)
    if (found == null) {
      // the manifest alone: no per-block presence check
      const stat = await statWithin(node, cid, notFoundTimeoutMs, signal, false)
      found = { size: stat.size, name: stat.name, mediaType: stat.mediaType }
      descriptions.set(cid, found)
    }
    return found
  }
  const entryCid = async (collection: string, path: string, signal: AbortSignal): Promise<string> => {
    const key = `${collection}/${path}`
    let found = entries.get(key)
    if (found == null) {
      const deadline = AbortSignal.timeout(notFoundTimeoutMs)
      let list
      try {
        list = await node.list(collection, { signal: AbortSignal.any([signal, deadline]) })
      } catch (err) {
        if (deadline.aborted && !signal.aborted) {
          throw new NotFoundError(`no peer provided ${collection} within ${notFoundTimeoutMs} ms`, { cause: err })
        }
        throw err
      }
      for (const entry of list) {
        entries.set(`${collection}/${entry.path}`, entry.cid)
      }
      found = list.find(e => e.path === path)?.cid
      if (found == null) {
        throw new NotFoundError(`the collection ${collection} has no entry "${path.slice(0, 200)}"`)
      }
    }
    return found
  }
  const serve = async (request: FastifyRequest<{ Querystring: Record<string, QueryValue> }>, reply: FastifyReply, collection: string, path?: string): Promise<FastifyReply> => {
    if (request.method === 'GET' && !limits.admitContent(request, reply)) {
      return reply
    }
    const etag = `"${path != null ? `${collection}/${encodeURIComponent(path)}` : collection}"`
    reply.header('ETag', etag)
    reply.header('Cache-Control', IMMUTABLE_CACHE_CONTROL)
    if (matchesEtag(request.headers['if-none-match'], etag)) {
      return reply.code(304).send()
    }
    const signal = clientSignal(reply)
    const cid = path != null ? await entryCid(collection, checkPath(path), signal) : collection
    const stat = await describe(cid, signal)
    reply.header('Accept-Ranges', 'bytes')
    reply.header('X-Content-Type-Options', 'nosniff')
    reply.header('Content-Security-Policy', 'sandbox')
    if (flag(request.query.download)) {
      reply.header('Content-Disposition', `attachment; filename*=UTF-8''${encodeFilename(stat.name ?? cid)}`)
    }
    let span: Span
    try {
      span = requestedSpan(stat.size, request.headers.range)
    } catch (err) {
      if (err instanceof RangeNotSatisfiableError) {
        reply.header('Content-Range', `bytes */${stat.size}`)
      }
      throw err
    }
    reply.type(contentType(stat.mediaType))
    if (span.partial) {
      reply.code(206)
      reply.header('Content-Range', `bytes ${span.offset}-${span.offset + span.length - 1}/${stat.size}`)
    }
    reply.header('Content-Length', span.length)
    if (request.method === 'HEAD' || span.length === 0) {
      return reply.send()
    }
    const body = await startStream(node.retrieve(cid, { offset: span.offset, length: span.length, window, signal }))
    return reply.send(body)
  }
  app.route<{ Params: { cid: string }, Querystring: Record<string, QueryValue> }>({
    method: ['GET', 'HEAD'],
    url: '/dds/:cid',
    exposeHeadRoute: false,
    handler: async (request, reply) => serve(request, reply, normalizeCid(request.params.cid))
  })
  app.route<{ Params: { cid: string, '*': string }, Querystring: Record<string, QueryValue> }>({
    method: ['GET', 'HEAD'],
    url: '/dds/:cid/*',
    exposeHeadRoute: false,
    handler: async (request, reply) => serve(request, reply, normalizeCid(request.params.cid), request.params['*'])
  })
}
