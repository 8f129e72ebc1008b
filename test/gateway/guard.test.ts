/**
 * Who may use the write API. Every test client here connects from loopback,
 * so the rules for clients on other hosts are checked on the guard itself,
 * with the request fields it reads.
 */
import { describe, it, expect } from 'vitest'
import type { FastifyRequest } from 'fastify'
import { checkWriteAccess, isLoopback, ownOrigins } from '../../src/gateway/guard.js'

function request (remoteAddress: string, headers: Record<string, string> = {}): FastifyRequest {
  return { headers, socket: { remoteAddress } } as unknown as FastifyRequest
}

const origins = ownOrigins('127.0.0.1', 8180)

function outcome (req: FastifyRequest, apiToken?: string): string {
  try {
    checkWriteAccess(req, { origins, apiToken })
    return 'allowed'
  } catch (err) {
    return (err as Error).name
  }
}

describe('the write-API guard', () => {
  it('knows loopback addresses', () => {
    expect(['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1'].map(isLoopback)).toEqual([true, true, true, true])
    expect(['192.0.2.1', '::ffff:192.0.2.1', '2001:db8::1', '10.0.0.1', undefined].map(isLoopback)).toEqual([false, false, false, false, false])
  })

  it('names the gateway\'s own origins', () => {
    expect([...origins]).toEqual(expect.arrayContaining(['http://127.0.0.1:8180', 'http://localhost:8180', 'http://[::1]:8180']))
    expect(origins.has('http://127.0.0.1:8181')).toBe(false)
  })

  it('lets loopback clients in without a token', () => {
    expect(outcome(request('127.0.0.1'))).toBe('allowed')
    expect(outcome(request('::1'), 'token')).toBe('allowed')
  })

  it('refuses other clients when no token is configured, whatever they send', () => {
    expect(outcome(request('192.0.2.1'))).toBe('ForbiddenError')
    expect(outcome(request('192.0.2.1', { authorization: 'Bearer anything' }))).toBe('ForbiddenError')
  })

  it('lets other clients in with the right bearer token only', () => {
    expect(outcome(request('192.0.2.1', { authorization: 'Bearer s3cret' }), 's3cret')).toBe('allowed')
    expect(outcome(request('192.0.2.1', { authorization: 'bearer s3cret' }), 's3cret')).toBe('allowed')
    expect(outcome(request('192.0.2.1', { authorization: 'Bearer s3cre' }), 's3cret')).toBe('ForbiddenError')
    expect(outcome(request('192.0.2.1', { authorization: 'Basic s3cret' }), 's3cret')).toBe('ForbiddenError')
    expect(outcome(request('192.0.2.1'), 's3cret')).toBe('ForbiddenError')
  })

  it('refuses a foreign Origin before anything else', () => {
    expect(outcome(request('127.0.0.1', { origin: 'http://evil.example' }))).toBe('ForbiddenError')
    expect(outcome(request('192.0.2.1', { origin: 'http://evil.example', authorization: 'Bearer s3cret' }), 's3cret')).toBe('ForbiddenError')
    expect(outcome(request('127.0.0.1', { origin: 'http://localhost:8180' }))).toBe('allowed')
    expect(outcome(request('127.0.0.1', { origin: 'HTTP://LOCALHOST:8180' }))).toBe('allowed')
  })
})
