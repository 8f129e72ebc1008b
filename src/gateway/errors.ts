import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyError, FastifyReply } from 'fastify'
import { DdsError, InvalidInputError } from '../errors.js'

/** The write API refused a request: not from loopback and without the API token, or sent from another origin. */
export class ForbiddenError extends DdsError {
  static override name = 'ForbiddenError'
  override name = 'ForbiddenError'

  constructor (message = 'Forbidden', options?: ErrorOptions) {
    super(message, options)
  }
}

/** A Range header no byte of the content satisfies. */
export class RangeNotSatisfiableError extends DdsError {
  static override name = 'RangeNotSatisfiableError'
  override name = 'RangeNotSatisfiableError'

  constructor (message = 'Range not satisfiable', options?: ErrorOptions) {
    super(message, options)
  }
}

/** An upload larger than the gateway's `maxUploadBytes`. */
export class PayloadTooLargeError extends DdsError {
  static override name = 'PayloadTooLargeError'
  override name = 'PayloadTooLargeError'

  constructor (message = 'Upload too large', options?: ErrorOptions) {
    super(message, options)
  }
}

/** HTTP status of each error the gateway answers with, by error name. */
const STATUS_BY_NAME: Record<string, number> = {
  InvalidInputError: 400,
  ForbiddenError: 403,
  NotFoundError: 404,
  RejectedError: 409,
  PayloadTooLargeError: 413,
  RangeNotSatisfiableError: 416,
  // a peer failed us: unreachable, broken, or it sent bytes that do not match their CID
  RemoteError: 502,
  // every peer that holds it was busy: the content is there, ask again later
  BusyError: 503,
  IntegrityError: 502,
  TimeoutError: 504
}

/** The body of every error response. */
export interface ErrorBody {
  error: { code: string, message: string }
}

/**
 * The status and JSON body for an error: DDS errors by their class (502 when
 * a peer failed), errors fastify raises on a bad request by their own 4xx
 * status, anything else 500.
 */
export function errorResponse (err: unknown): { status: number, body: ErrorBody } {
  const error = err instanceof Error ? err : new Error(String(err))
  const byName = STATUS_BY_NAME[error.name]
  if (byName != null && (error instanceof DdsError || error.name === 'TimeoutError')) {
    return { status: byName, body: { error: { code: error.name, message: error.message } } }
  }
  const status = (error as { statusCode?: unknown }).statusCode
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const code = status === 404 ? 'NotFoundError' : status === 413 ? 'PayloadTooLargeError' : 'InvalidInputError'
    return { status, body: { error: { code, message: error.message } } }
  }
  const code = error instanceof DdsError ? error.name : 'InternalError'
  return { status: 500, body: { error: { code, message: error.message } } }
}

/** Headers a content response may have set before it failed, which describe content, not the error. */
const CONTENT_HEADERS = ['etag', 'cache-control', 'content-disposition', 'content-length', 'accept-ranges', 'content-security-policy', 'content-location', 'x-ipfs-path', 'x-ipfs-roots']

/**
 * Sends an error as JSON with its status, never cached (content that is not
 * found now may be found later). A 416 keeps its `Content-Range`.
 */
export async function sendError (reply: FastifyReply, err: unknown): Promise<FastifyReply> {
  const { status, body } = errorResponse(err)
  for (const header of CONTENT_HEADERS) {
    reply.removeHeader(header)
  }
  if (status !== 416) {
    reply.removeHeader('content-range')
  }
  const retryAfterMs = (err as { retryAfterMs?: unknown } | undefined)?.retryAfterMs
  if (status === 503 && typeof retryAfterMs === 'number') {
    reply.header('Retry-After', String(Math.max(1, Math.ceil(retryAfterMs / 1000))))
  }
  return reply
    .code(status)
    .type('application/json; charset=utf-8')
    .header('Cache-Control', 'no-store')
    .header('X-Content-Type-Options', 'nosniff')
    .send(body)
}

/**
 * A URL the router refused before any route ran (bad percent-encoding, a
 * path parameter longer than the router takes) as the InvalidInputError it
 * is, so that it is answered like every other bad request.
 */
export function routerError (err: FastifyError): InvalidInputError {
  const what = err.code === 'FST_ERR_MAX_PARAM_LENGTH'
    ? 'a path segment of the URL is longer than any CID'
    : 'the URL path is not valid percent-encoding'
  return new InvalidInputError(what, { cause: err })
}

/**
 * Answers a request Node's HTTP parser refused (it never reaches a route)
 * with the same JSON error body as every other error, then ends the
 * connection. Nothing is written to a connection the client reset.
 */
export function answerClientError (err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) {
    return
  }
  const [status, code, message] = err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
    ? [408, 'TimeoutError', 'the request was not received in time']
    : err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'InvalidInputError', 'the request headers are too large']
      : [400, 'InvalidInputError', `the request is not valid HTTP/1.1 (${err.code ?? 'parse error'})`]
  const body = JSON.stringify({ error: { code, message } } satisfies ErrorBody)
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Cache-Control: no-store\r\n' +
      'X-Content-Type-Options: nosniff\r\n' +
      `Connection: close\r\n\r\n${body}`)
  }
  socket.destroy(err)
}
