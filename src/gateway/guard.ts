import { timingSafeEqual, createHash } from 'node:crypto'
import { isIP } from 'node:net'
import { networkInterfaces } from 'node:os'
import type { FastifyRequest } from 'fastify'
import { ForbiddenError } from './errors.js'

/** True for an address of this host's loopback interface (IPv4 127/8, IPv6 ::1, and IPv4-mapped loopback). */
export function isLoopback (address: string | undefined): boolean {
  if (address == null) {
    return false
  }
  const plain = address.startsWith('::ffff:') ? address.slice(7) : address
  return plain === '::1' || (isIP(plain) === 4 && plain.startsWith('127.'))
}

function hostForUrl (host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host
}

/**
 * The origins a page served by this gateway has: `http://<host>:<port>` for
 * the loopback names, the configured host and, when it listens on every
 * interface, each of this host's addresses. A fixed list rather than the
 * request's Host header, so that a page on a rebound DNS name is not taken
 * for the gateway's own.
 */
export function ownOrigins (host: string, port: number): Set<string> {
  const hosts = new Set(['127.0.0.1', 'localhost', '::1', host])
  if (host === '0.0.0.0' || host === '::') {
    for (const addrs of Object.values(networkInterfaces())) {
      for (const addr of addrs ?? []) {
        hosts.add(addr.address)
      }
    }
  }
  return new Set([...hosts].map(h => `http://${hostForUrl(h)}:${port}`))
}

function sameSecret (given: string, expected: string): boolean {
  // compare digests so neither the length nor the content leaks through timing
  const a = createHash('sha256').update(given).digest()
  const b = createHash('sha256').update(expected).digest()
  return timingSafeEqual(a, b)
}

/** Who may use the write API (every POST under /api/v1/). */
export interface WriteGuardInit {
  /** Origins of pages this gateway serves. */
  origins: Set<string>
  /** Bearer token that lets clients from other hosts in. */
  apiToken?: string
}

/**
 * Throws ForbiddenError unless the request may use the write API: a request
 * with an `Origin` header from another origin is refused whoever sends it (a
 * web page must not drive the node through its visitor's browser); a loopback
 * client is let in; any other client needs `Authorization: Bearer <apiToken>`
 * and a token to be configured.
 */
export function checkWriteAccess (request: FastifyRequest, init: WriteGuardInit): void {
  const origin = request.headers.origin
  if (origin != null && !init.origins.has(origin.toLowerCase())) {
    throw new ForbiddenError(`the write API does not accept requests from pages of ${origin.slice(0, 200)}`)
  }
  if (isLoopback(request.socket.remoteAddress)) {
    return
  }
  if (init.apiToken == null || init.apiToken === '') {
    throw new ForbiddenError('the write API is open to loopback clients only; start the gateway with an API token to allow others')
  }
  const auth = request.headers.authorization ?? ''
  const match = /^Bearer\s+(\S+)\s*$/i.exec(auth)
  if (match == null || !sameSecret(match[1]!, init.apiToken)) {
    throw new ForbiddenError('the write API needs "Authorization: Bearer <token>" with the gateway\'s API token')
  }
}
