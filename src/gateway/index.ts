/**
 * The HTTP gateway of a DDS node: content at `/dds/<cid>` (with byte ranges,
 * so browsers can stream and seek media), a JSON API under `/api/v1`,
 * `/health`, Prometheus `/metrics` and a small HTML page at `/` listing what
 * this node and its peers share. See doc/GATEWAY.md.
 *
 * ```ts
 * const node = await Dds.create({ storage: './data' })
 * const gateway = await startGateway(node, { port: 8180 })
 * console.log(gateway.url) // http://127.0.0.1:8180
 * await gateway.close()
 * ```
 *
 * @module
 */

import { InvalidInputError } from '../errors.js'
import { numberOption, timeoutOption } from '../options.js'
import * as c from './constants.js'
import { DEFAULT_GATEWAY_HOST, DEFAULT_GATEWAY_PORT, DEFAULT_NOT_FOUND_TIMEOUT_MS } from './constants.js'
import type { GatewayNode } from './types.js'

export { DEFAULT_GATEWAY_HOST, DEFAULT_GATEWAY_PORT, DEFAULT_NOT_FOUND_TIMEOUT_MS } from './constants.js'
export { ForbiddenError, PayloadTooLargeError, RangeNotSatisfiableError } from './errors.js'
export type { GatewayNode } from './types.js'

/** Options of `startGateway`. Every limit is listed in doc/LIMITS.md. */
export interface GatewayOptions {
  /**
   * Address to listen on. Anything but a loopback address exposes the read
   * API to the network; the write API still needs `apiToken` there.
   *
   * @default '127.0.0.1'
   */
  host?: string
  /**
   * Port to listen on; 0 picks a free one (read it from `Gateway.port`).
   *
   * @default 8180
   */
  port?: number
  /**
   * Bearer token that lets clients other than loopback ones use the write
   * API (`Authorization: Bearer <token>`). Without it only loopback clients
   * can publish, pin, unpin, gc and connect.
   */
  apiToken?: string
  /**
   * How long `GET /dds/<cid>` and `/api/v1/stat/<cid>` look for content
   * before answering 404, in ms.
   *
   * @default 30000
   */
  notFoundTimeoutMs?: number
  /**
   * Largest upload `POST /api/v1/publish` takes, in bytes; a larger one gets
   * 413. Uploads stream into the store, so memory stays flat either way.
   *
   * @default unlimited
   */
  maxUploadBytes?: number
  /**
   * Requests one client (an IPv4 address or an IPv6 /64) may have in
   * progress at once, on any route; more are answered 429 with `Retry-After`.
   *
   * @default 64
   */
  maxRequestsPerClient?: number
  /**
   * Content responses (`GET /dds/<cid>`) in progress at once over all
   * clients; more are answered 503 with `Retry-After`.
   *
   * @default 32
   */
  maxContentResponses?: number
  /**
   * Content responses one client may have in progress at once; more are
   * answered 429 with `Retry-After`.
   *
   * @default 8
   */
  maxContentResponsesPerClient?: number
  /**
   * Chunks (256 KiB each) one content response fetches ahead of its client:
   * what a client that stops reading can make the gateway hold.
   *
   * @default 16
   */
  responseWindow?: number
  /**
   * How long a content response may wait for its client to read what it was
   * sent before the connection is closed, in ms. Time spent waiting for
   * peers does not count.
   *
   * @default 20000
   */
  writeTimeoutMs?: number
}

/** A running gateway. */
export interface Gateway {
  /** Where clients reach it, e.g. `http://127.0.0.1:8180` (a wildcard host is given as loopback). */
  readonly url: string
  /** The port it listens on (the chosen one when `port` was 0). */
  readonly port: number
  /** The address it listens on. */
  readonly host: string
  /** Stops listening and ends open connections (running retrievals are aborted). */
  close(): Promise<void>
}

/**
 * Starts an HTTP gateway serving `node`.
 *
 * @throws {InvalidInputError} on a bad option
 * @throws {Error} with `code` 'EADDRINUSE' when the port is taken
 */
export async function startGateway (node: GatewayNode, options: GatewayOptions = {}): Promise<Gateway> {
  const host = options.host ?? DEFAULT_GATEWAY_HOST
  const port = numberOption('port', options.port, DEFAULT_GATEWAY_PORT, { min: 0, max: 65535 })
  if (typeof host !== 'string' || host === '') {
    throw new InvalidInputError('host must be a non-empty address such as 127.0.0.1')
  }
  if (options.apiToken != null && (typeof options.apiToken !== 'string' || options.apiToken.length === 0)) {
    throw new InvalidInputError('apiToken must be a non-empty string')
  }
  // Loaded here, not when the package is imported: fastify and prom-client
  // weigh ~25 MiB of memory that a node without a gateway never needs.
  const { GatewayServer } = await import('./server.js')
  const server = new GatewayServer(node, {
    host,
    port,
    apiToken: options.apiToken,
    notFoundTimeoutMs: numberOption('notFoundTimeoutMs', options.notFoundTimeoutMs, DEFAULT_NOT_FOUND_TIMEOUT_MS),
    maxUploadBytes: options.maxUploadBytes != null ? numberOption('maxUploadBytes', options.maxUploadBytes, 0, { min: 0 }) : undefined,
    limits: {
      maxRequestsPerClient: numberOption('maxRequestsPerClient', options.maxRequestsPerClient, c.DEFAULT_MAX_REQUESTS_PER_CLIENT),
      maxContentResponses: numberOption('maxContentResponses', options.maxContentResponses, c.DEFAULT_MAX_CONTENT_RESPONSES),
      maxContentResponsesPerClient: numberOption('maxContentResponsesPerClient', options.maxContentResponsesPerClient, c.DEFAULT_MAX_CONTENT_RESPONSES_PER_CLIENT),
      writeTimeoutMs: timeoutOption('writeTimeoutMs', options.writeTimeoutMs, c.DEFAULT_WRITE_TIMEOUT_MS),
      retryAfterSeconds: c.RETRY_AFTER_SECONDS
    },
    responseWindow: numberOption('responseWindow', options.responseWindow, c.DEFAULT_RESPONSE_WINDOW)
  })
  await server.listen()
  return {
    get url () { return server.url },
    get port () { return server.port },
    host,
    close: async () => { await server.close() }
  }
}
