/**
 * The gateway's limits on its clients: a client that stops reading has its
 * connection closed by the write timeout (and its places freed), content
 * responses are capped per client (429) and in all (503) with Retry-After,
 * every route is capped per client, and a burst of concurrent requests is
 * answered, each one, rather than left hanging.
 */
import { connect, type Socket } from 'node:net'
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import type { Dds } from '../../src/index.js'
import { clientKey } from '../../src/gateway/limits.js'
import { Gateways, http, json } from './helpers.js'
import { CHUNK_SIZE, pseudoRandomBytes } from '../utils/content.js'
import { Cluster } from '../utils/cluster.js'
import { waitFor } from '../utils/wait.js'

/** A client that asks for `path` and never reads the answer. */
function stalledClient (port: number, path: string): Socket {
  const socket = connect(port, '127.0.0.1', () => {
    socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`)
    socket.pause()
  })
  socket.on('error', () => {})
  return socket
}

async function closed (socket: Socket): Promise<void> {
  if (!socket.destroyed) {
    await new Promise(resolve => socket.once('close', resolve))
  }
}

describe('gateway client limits', () => {
  const cluster = new Cluster()
  const gateways = new Gateways()
  /** Far more than the gateway's window and the sockets' buffers hold: a stalled client's response stays unfinished. */
  const size = 48 * 1024 * 1024
  let a: Dds
  let b: Dds
  let cid: string

  beforeAll(async () => {
    a = await cluster.node()
    b = await cluster.node({ bootstrap: a.getMultiaddrs() })
    cid = await a.publish(pseudoRandomBytes(size, 61))
  })
  afterAll(async () => {
    await gateways.close()
    await cluster.stop()
  })

  it('closes the connection of a client that stops reading, and frees its place', async () => {
    const gateway = await gateways.start(b, { writeTimeoutMs: 500, maxContentResponses: 1 })
    const socket = stalledClient(gateway.port, `/dds/${cid}`)
    // while it holds the only place, another client is told to come back
    await waitFor(async () => (await http(`${gateway.url}/dds/${cid}`, { headers: { range: 'bytes=0-9' } })).status === 503, 'the stalled client holds the only content place')
    const busy = await http(`${gateway.url}/dds/${cid}`, { headers: { range: 'bytes=0-9' } })
    expect(busy.status).toBe(503)
    expect(busy.headers['retry-after']).toBe('1')
    expect(json(busy).error.code).toBe('ServiceBusyError')
    // the write timeout frees the place: the gateway closed its end
    await waitFor(async () => (await http(`${gateway.url}/dds/${cid}`, { headers: { range: 'bytes=0-9' } })).status === 206, 'the stalled client\'s place is freed')
    const after = await http(`${gateway.url}/dds/${cid}`, { headers: { range: 'bytes=0-9' } })
    expect(after.body.byteLength).toBe(10)
    // reading again, the client finds its connection ended short of the content
    let received = 0
    socket.on('data', (part: Buffer) => { received += part.byteLength })
    socket.resume()
    await closed(socket)
    expect(received).toBeLessThan(size)
  })

  it('caps content responses per client with 429 and Retry-After', async () => {
    const gateway = await gateways.start(b, { maxContentResponsesPerClient: 2 })
    const sockets = [stalledClient(gateway.port, `/dds/${cid}`), stalledClient(gateway.port, `/dds/${cid}`)]
    try {
      await waitFor(async () => (await http(`${gateway.url}/dds/${cid}`, { headers: { range: 'bytes=0-9' } })).status === 429, 'two stalled responses hold the client\'s share')
      const refused = await http(`${gateway.url}/dds/${cid}`)
      expect(refused.status).toBe(429)
      expect(refused.headers['retry-after']).toBe('1')
      expect(json(refused).error.code).toBe('TooManyRequestsError')
      // other routes are not content responses
      expect((await http(`${gateway.url}/health`)).status).toBe(200)
    } finally {
      sockets.forEach(s => s.destroy())
    }
    await waitFor(async () => (await http(`${gateway.url}/dds/${cid}`, { headers: { range: 'bytes=0-9' } })).status === 206, 'the places are free once the clients left')
  })

  it('caps requests in progress per client on every route', async () => {
    const gateway = await gateways.start(b, { maxRequestsPerClient: 2 })
    const sockets = [stalledClient(gateway.port, `/dds/${cid}`), stalledClient(gateway.port, `/dds/${cid}`)]
    try {
      await waitFor(async () => (await http(`${gateway.url}/health`)).status === 429, 'two stalled requests hold the client\'s budget')
      const refused = await http(`${gateway.url}/api/v1/stats`)
      expect(refused.status).toBe(429)
      expect(refused.headers['retry-after']).toBe('1')
    } finally {
      sockets.forEach(s => s.destroy())
    }
    await waitFor(async () => (await http(`${gateway.url}/health`)).status === 200, 'the budget is free once the clients left')
  })

  it('answers every one of a burst of concurrent range requests', async () => {
    const gateway = await gateways.start(b)
    const count = 300
    const results = await Promise.all(Array.from({ length: count }, async (_, i) => {
      const offset = (i * 7919 * 1024) % (size - CHUNK_SIZE)
      return http(`${gateway.url}/dds/${cid}`, { headers: { range: `bytes=${offset}-${offset + 999}` } })
    }))
    const statuses = new Map<number, number>()
    for (const r of results) {
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1)
      if (r.status === 206) {
        expect(r.body.byteLength).toBe(1000)
      } else {
        expect([429, 503]).toContain(r.status)
        expect(r.headers['retry-after']).toBe('1')
      }
    }
    expect(statuses.get(206) ?? 0).toBeGreaterThan(0)
    expect([...statuses.values()].reduce((x, y) => x + y, 0)).toBe(count)
  })

  it('rejects bad limit options', async () => {
    await expect(gateways.start(b, { maxContentResponses: 0 })).rejects.toThrow(/maxContentResponses/)
    await expect(gateways.start(b, { writeTimeoutMs: -1 })).rejects.toThrow(/writeTimeoutMs/)
    await expect(gateways.start(b, { responseWindow: 1.5 })).rejects.toThrow(/responseWindow/)
  })
})

describe('retrieve({ window })', () => {
  const cluster = new Cluster()
  afterAll(async () => { await cluster.stop() })

  it('fetches no more than its window ahead of a reader that stopped', async () => {
    const a = await cluster.node()
    const b = await cluster.node({ bootstrap: a.getMultiaddrs() })
    const cid = await a.publish(pseudoRandomBytes(32 * CHUNK_SIZE, 62))
    const iterator = b.retrieve(cid, { window: 2 })[Symbol.asyncIterator]()
    try {
      await iterator.next()
      // the reader stops after the first piece; give the session time to run ahead if it would
      await new Promise(resolve => setTimeout(resolve, 1000))
      // the chunk read, and at most the window beyond it (a rescue may ask one twice)
      expect(a.stats().chunksServed).toBeLessThanOrEqual(4)
    } finally {
      await iterator.return?.()
    }
    await expect(b.retrieveBytes(cid, { window: 0 })).rejects.toThrow(/window/)
  })
})

describe('clientKey', () => {
  it('groups IPv6 clients by /64 and unwraps IPv4-mapped addresses', () => {
    expect(clientKey('127.0.0.1')).toBe('127.0.0.1')
    expect(clientKey('::ffff:10.1.2.3')).toBe('10.1.2.3')
    expect(clientKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64')
    expect(clientKey('2001:db8:1:2:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64')
    expect(clientKey('::1')).toBe('0:0:0:0::/64')
    expect(clientKey(undefined)).toBe('unknown')
  })
})
