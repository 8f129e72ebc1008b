import { createServer } from 'node:http'
import { isIP } from 'node:net'
import Fastify, { type FastifyInstance } from 'fastify'
import { NotFoundError } from '../errors.js'
import { apiRoutes } from './api.js'
import { DEFAULT_PAGE_BROWSE_TIMEOUT_MS, LISTEN_BACKLOG, PAGE_CATALOG_LIMIT, PAGE_COLLECTIONS } from './constants.js'
import { COLLECTION_MEDIA_TYPE } from '../manifest/index.js'
import type { CollectionEntryInfo } from '../dds.js'
import { contentRoute } from './content.js'
import { answerClientError, routerError, sendError } from './errors.js'
import { ownOrigins } from './guard.js'
import { createMetrics } from './metrics.js'
import { chunkRoute } from './chunks.js'
import { ipfsRoute } from './ipfs.js'
import { PAGE_CSP, renderPage, type PageContent } from './page.js'
import { ClientLimits, type ClientLimitsInit } from './limits.js'
import { clientSignal } from './request.js'
import type { GatewayNode } from './types.js'

/** Options the server is built with, every default resolved. */
export interface ServerInit {
  host: string
  port: number
  apiToken?: string
  notFoundTimeoutMs: number
  maxUploadBytes?: number
  limits: ClientLimitsInit
  /** Chunks one content response fetches ahead of its client (`RetrieveOptions.window`). */
  responseWindow: number
}

/** The URL clients reach a server on: a wildcard host is reached through loopback. */
export function urlFor (host: string, port: number): string {
  const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host
  return `http://${isIP(reachable) === 6 ? `[${reachable}]` : reachable}:${port}`
}

/** A running gateway: the fastify instance and where it listens. */
export class GatewayServer {
  readonly app: FastifyInstance
  private readonly node: GatewayNode
  private readonly init: ServerInit
  private boundPort = 0

  constructor (node: GatewayNode, init: ServerInit) {
    this.node = node
    this.init = init
    // the real port is known once listening; the origins are read per request
    const guard = { origins: new Set<string>(), apiToken: init.apiToken }
    const metrics = createMetrics(node)
    const limits = new ClientLimits(init.limits)
    this.app = Fastify({
      logger: false,
      // every request counts against its client's budget before the router
      // runs; a refused one is answered 429 here, as cheaply as can be
      serverFactory: (handler) => createServer((req, res) => {
        if (limits.admitRequest(req, res)) {
          handler(req, res)
        } else {
          metrics.observeRequest(req.method ?? 'GET', 'refused', 429, 0)
        }
      }),
      // close() ends keep-alive and in-flight connections too (aborting what
      // they started) rather than waiting for their clients to leave
      forceCloseConnections: true,
      // a URL the router refuses, and a request Node's parser refuses, get
      // the same JSON error body as every other bad request
      frameworkErrors: (err, _request, reply) => { void sendError(reply, routerError(err)) },
      clientErrorHandler: answerClientError
    })
    const app = this.app

    // Every body streams through untouched: publish reads it as it arrives,
    // no route buffers one, and no body size limit applies but maxUploadBytes.
    app.removeAllContentTypeParsers()
    app.addContentTypeParser('*', (_request, payload, done) => { done(null, payload) })

    app.setErrorHandler(async (err, _request, reply) => sendError(reply, err))
    app.setNotFoundHandler(async (request, reply) => sendError(reply, new NotFoundError(`no route ${request.method} ${request.url.split('?')[0]!.slice(0, 200)}`)))
    app.addHook('onResponse', async (request, reply) => {
      metrics.observeRequest(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000)
    })
    app.addHook('onListen', async () => {
      const address = app.server.address()
      if (address != null && typeof address === 'object') {
        this.boundPort = address.port
      }
      for (const origin of ownOrigins(init.host, this.port)) {
        guard.origins.add(origin)
      }
    })

    app.get('/health', async () => ({ ok: true, peer: node.peerId, peers: node.peers().length }))

    app.get('/metrics', async (_request, reply) => {
      const text = await metrics.registry.metrics()
      return reply.type(metrics.registry.contentType).header('Cache-Control', 'no-store').send(text)
    })

    app.get('/', async (_request, reply) => {
      const html = renderPage(await this.pageContent(clientSignal(reply)))
      return reply
        .type('text/html; charset=utf-8')
        .header('Content-Security-Policy', PAGE_CSP)
        .header('X-Content-Type-Options', 'nosniff')
        .header('Cache-Control', 'no-store')
        .send(html)
    })

    contentRoute(app, { node, notFoundTimeoutMs: init.notFoundTimeoutMs, limits, window: init.responseWindow })
    chunkRoute(app, { node, notFoundTimeoutMs: init.notFoundTimeoutMs })
    ipfsRoute(app, { node, limits })
    apiRoutes(app, {
      node,
      guard,
      notFoundTimeoutMs: init.notFoundTimeoutMs,
      maxUploadBytes: init.maxUploadBytes,
      url: () => this.url
    })
  }

  get port (): number {
    return this.boundPort
  }

  get url (): string {
    return urlFor(this.init.host, this.boundPort)
  }

  /**
   * Starts listening.
   *
   * @throws {Error} with `code` 'EADDRINUSE' when the port is taken
   */
  async listen (): Promise<void> {
    try {
      await this.app.listen({ host: this.init.host, port: this.init.port, backlog: LISTEN_BACKLOG })
    } catch (err) {
      // the listen error is the one reported; closing what never listened has nothing to add
      await this.app.close().catch(() => {})
      const code = (err as { code?: string }).code
      if (code === 'EADDRINUSE') {
        throw Object.assign(new Error(`the gateway cannot listen on ${this.init.host}:${this.init.port}: the port is in use (EADDRINUSE); choose another port or stop what uses it`, { cause: err }), { code })
      }
      throw err
    }
  }

  async close (): Promise<void> {
    await this.app.close()
  }

  private async pageContent (signal: AbortSignal): Promise<PageContent> {
    const [local, peers, held] = await Promise.all([
      this.node.catalog(undefined, { limit: PAGE_CATALOG_LIMIT, signal }),
      this.node.browse({ limit: PAGE_CATALOG_LIMIT, timeoutMs: DEFAULT_PAGE_BROWSE_TIMEOUT_MS, signal }),
      this.node.replicas()
    ])
    // albums and folders show their tracks: each list is fetched (a peer's from that peer) within the browse deadline
    const collections = [...local, ...peers.flatMap(p => p.entries)].filter(e => e.mediaType === COLLECTION_MEDIA_TYPE).slice(0, PAGE_COLLECTIONS)
    const albums = new Map<string, CollectionEntryInfo[]>()
    const deadline = AbortSignal.any([signal, AbortSignal.timeout(DEFAULT_PAGE_BROWSE_TIMEOUT_MS)])
    await Promise.all(collections.map(async (entry) => {
      try {
        albums.set(entry.cid, await this.node.list(entry.cid, { signal: deadline }))
      } catch {
        // shown without its tracks
      }
    }))
    return { peer: this.node.peerId, local, peers, held: held.slice(0, PAGE_CATALOG_LIMIT), albums }
  }
}
