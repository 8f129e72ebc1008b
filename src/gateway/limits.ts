import { isIPv6 } from 'node:net'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ErrorBody } from './errors.js'

/** The limits one gateway enforces on its clients, every default resolved. */
export interface ClientLimitsInit {
  /** Requests in progress at once from one client (address), any route. */
  maxRequestsPerClient: number
  /** Content responses (`GET /dds/<cid>`, chunk fetches) in progress at once over all clients. */
  maxContentResponses: number
  /** Content responses in progress at once from one client. */
  maxContentResponsesPerClient: number
  /** How long a response may wait for its client to read before the connection is closed, in ms. */
  writeTimeoutMs: number
  /** Seconds a refused client is told to wait (`Retry-After`). */
  retryAfterSeconds: number
}

/**
 * Whom a request counts against: its IPv4 address, or the /64 of an IPv6
 * one (one host usually holds a whole /64, so a client cannot multiply its
 * budget by changing the low bits).
 */
export function clientKey (address: string | undefined): string {
  if (address == null || address === '') {
    return 'unknown'
  }
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  if (v4 != null) {
    return v4[1]!
  }
  if (!isIPv6(address)) {
    return address
  }
  const [head, tail = ''] = address.split('::')
  const left = head === '' ? [] : head!.split(':')
  const right = tail === '' ? [] : tail.split(':')
  const groups = address.includes('::')
    ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
    : left
  return `${groups.slice(0, 4).map(g => parseInt(g, 16).toString(16)).join(':')}::/64`
}

/** Counts held per key; a key with none has no entry. */
class Counter {
  readonly counts = new Map<string, number>()
  total = 0

  get (key: string): number {
    return this.counts.get(key) ?? 0
  }

  take (key: string): void {
    this.total++
    this.counts.set(key, this.get(key) + 1)
  }

  release (key: string): void {
    this.total--
    const left = this.get(key) - 1
    if (left > 0) {
      this.counts.set(key, left)
    } else {
      this.counts.delete(key)
    }
  }
}

/**
 * The gateway's budget of requests and content responses, per client and in
 * all. A request holds its place until its response is finished or its
 * connection closed, whichever comes first, so a client that stops reading
 * keeps its places only until the write timeout closes its connection.
 */
export class ClientLimits {
  private readonly init: ClientLimitsInit
  private readonly requests = new Counter()
  private readonly content = new Counter()

  constructor (init: ClientLimitsInit) {
    this.init = init
  }

  /** Requests and content responses in progress, in all. */
  get inProgress (): { requests: number, content: number } {
    return { requests: this.requests.total, content: this.content.total }
  }

  /**
   * Admits a request, or answers it 429 at once and returns false. Every
   * request passes here before the router: a client has at most
   * `maxRequestsPerClient` in progress, and one refused costs no more than
   * its few bytes of answer, however many arrive.
   */
  admitRequest (req: IncomingMessage, res: ServerResponse): boolean {
    const key = clientKey(req.socket.remoteAddress)
    if (this.requests.get(key) >= this.init.maxRequestsPerClient) {
      const refusal = this.refusal(429, 'TooManyRequestsError', `too many requests at once from ${key} (at most ${this.init.maxRequestsPerClient}); try again later`)
      res.writeHead(refusal.status, refusal.headers)
      res.end(refusal.body)
      return false
    }
    this.requests.take(key)
    // 'close' follows both a finished response and an aborted one
    res.once('close', () => { this.requests.release(key) })
    return true
  }

  /**
   * Admits a content response, or answers it (429 past the client's share,
   * 503 when the gateway serves as many as it allows) and returns false. An
   * admitted response's connection is closed once its client has not read
   * what it was sent for `writeTimeoutMs`.
   */
  admitContent (request: FastifyRequest, reply: FastifyReply): boolean {
    const key = clientKey(request.socket.remoteAddress)
    const refusal = this.content.get(key) >= this.init.maxContentResponsesPerClient
      ? this.refusal(429, 'TooManyRequestsError', `too many content responses at once to ${key} (at most ${this.init.maxContentResponsesPerClient}); try again later`)
      : this.content.total >= this.init.maxContentResponses
        ? this.refusal(503, 'ServiceBusyError', `the gateway is serving as much content as it allows (${this.init.maxContentResponses} responses); try again later`)
        : undefined
    if (refusal != null) {
      void reply.code(refusal.status).headers(refusal.headers).send(refusal.body)
      return false
    }
    this.content.take(key)
    reply.raw.once('close', () => { this.content.release(key) })
    watchWrites(reply, this.init.writeTimeoutMs)
    return true
  }

  /**
   * The answer to a refused request: the gateway's JSON error body, with
   * `Retry-After`, and `Connection: close` so that a refused client keeps no
   * connection open here while it waits. No error object is made: refusing
   * must stay cheap when thousands arrive at once.
   */
  private refusal (status: 429 | 503, code: string, message: string): { status: number, headers: Record<string, string | number>, body: string } {
    const body = JSON.stringify({ error: { code, message } } satisfies ErrorBody)
    return {
      status,
      body,
      headers: {
        'Content-Type': 'application/json; charset=utf-8',
        'Content-Length': Buffer.byteLength(body),
        'Cache-Control': 'no-store',
        'X-Content-Type-Options': 'nosniff',
        'Retry-After': String(this.init.retryAfterSeconds),
        Connection: 'close'
      }
    }
  }
}

/**
 * Closes the connection of a response whose client has not taken any of
 * what it was sent for `timeoutMs`: bytes wait in the response's buffer and
 * the socket has written nothing more since the last look. A response that
 * waits for content from peers has nothing buffered and is left alone.
 */
function watchWrites (reply: FastifyReply, timeoutMs: number): void {
  const res = reply.raw
  const socket = res.socket
  if (socket == null) {
    return
  }
  let written = socket.bytesWritten
  let stalledSince: number | undefined
  const timer = setInterval(() => {
    const now = Date.now()
    if (socket.bytesWritten !== written || !(res.writableNeedDrain || socket.writableNeedDrain)) {
      written = socket.bytesWritten
      stalledSince = undefined
      return
    }
    stalledSince ??= now
    if (now - stalledSince >= timeoutMs) {
      clearInterval(timer)
      socket.destroy()
    }
  }, Math.max(50, Math.floor(timeoutMs / 4)))
  timer.unref()
  res.once('close', () => { clearInterval(timer) })
}
