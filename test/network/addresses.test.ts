/**
 * Addresses and transports on 127.0.0.1: announced addresses instead of the
 * listen ones (found through the DHT by a node that never saw the listen
 * address), `/dns4` names for bootstrap peers, WebSockets and QUIC on both
 * ends, and TCP first when a peer has both.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:net'
import { CHUNK_SIZE, InvalidInputError, type Dds } from '../../src/index.js'
import { Cluster } from '../utils/cluster.js'

async function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port
      server.close(() => { resolve(port) })
    })
  })
}

const connectionsTo = (from: Dds, to: Dds): string[] =>
  from.libp2p.getConnections().filter(c => c.remotePeer.toString() === to.peerId).map(c => c.remoteAddr.toString())

describe('addresses and transports', () => {
  const cluster = new Cluster()
  afterEach(async () => { await cluster.stop() })

  it('a node tells others the addresses it announces, and is found and retrieved from through them', async () => {
    const hub = await cluster.node()
    const port = await freePort()
    const a = await cluster.node({
      listen: [`/ip4/127.0.0.1/tcp/${port}`],
      announceAddrs: [`/dns4/localhost/tcp/${port}`],
      bootstrap: hub.getMultiaddrs()
    })
    expect(a.getMultiaddrs()).toEqual([`/dns4/localhost/tcp/${port}/p2p/${a.peerId}`])
    const bytes = randomBytes(3 * CHUNK_SIZE + 1)
    const cid = await a.publish(bytes)
    await a.awaitAnnouncements()

    // C knows only the hub; the DHT hands it A's announced address
    const c = await cluster.node({ bootstrap: hub.getMultiaddrs() })
    expect(connectionsTo(c, a)).toEqual([])
    expect(Buffer.from(await c.retrieveBytes(cid)).equals(bytes)).toBe(true)
    expect(connectionsTo(c, a).some(addr => addr.startsWith('/dns4/localhost/'))).toBe(true)
  })

  it('bootstrap peers may be given by /dns4 name', async () => {
    const a = await cluster.node()
    const port = a.getMultiaddrs()[0]!.split('/')[4]
    const b = await cluster.node({ bootstrap: [`/dns4/localhost/tcp/${port}/p2p/${a.peerId}`] })
    expect(connectionsTo(b, a).length).toBeGreaterThan(0)
    const bytes = randomBytes(CHUNK_SIZE + 3)
    const cid = await a.publish(bytes)
    expect(Buffer.from(await b.retrieveBytes(cid)).equals(bytes)).toBe(true)
  })

  it('a node listening only on WebSockets and one dialing only WebSockets exchange content', async () => {
    const a = await cluster.node({ listen: ['/ip4/127.0.0.1/tcp/0/ws'] })
    expect(a.getMultiaddrs().every(addr => addr.includes('/ws/'))).toBe(true)
    const b = await cluster.node({ listen: ['/ip4/127.0.0.1/tcp/0/ws'], bootstrap: a.getMultiaddrs() })
    const bytes = randomBytes(4 * CHUNK_SIZE)
    const cid = await b.publish(bytes)
    expect(Buffer.from(await a.retrieveBytes(cid)).equals(bytes)).toBe(true)
    const used = connectionsTo(a, b).concat(connectionsTo(b, a))
    expect(used.length).toBeGreaterThan(0)
    expect(used.every(addr => addr.includes('/ws'))).toBe(true)
  })

  it('a node listening only on QUIC and one dialing only QUIC exchange content', async () => {
    const a = await cluster.node({ listen: ['/ip4/127.0.0.1/udp/0/quic-v1'] })
    expect(a.getMultiaddrs().every(addr => addr.includes('/quic-v1/'))).toBe(true)
    const b = await cluster.node({ listen: ['/ip4/127.0.0.1/udp/0/quic-v1'], bootstrap: a.getMultiaddrs() })
    const bytes = randomBytes(4 * CHUNK_SIZE)
    const cid = await b.publish(bytes)
    expect(Buffer.from(await a.retrieveBytes(cid)).equals(bytes)).toBe(true)
    const used = connectionsTo(a, b).concat(connectionsTo(b, a))
    expect(used.length).toBeGreaterThan(0)
    expect(used.every(addr => addr.includes('/quic-v1'))).toBe(true)
  })

  it('a node listens on TCP and QUIC by default, and a peer given both dials TCP', async () => {
    const a = await cluster.node({ listen: undefined })
    const addrs = a.getMultiaddrs()
    expect(addrs.some(addr => addr.startsWith('/ip4/127.0.0.1/tcp/'))).toBe(true)
    expect(addrs.some(addr => /^\/ip4\/127\.0\.0\.1\/udp\/\d+\/quic-v1\//.test(addr))).toBe(true)
    const b = await cluster.node({ listen: undefined, bootstrap: addrs })
    expect(connectionsTo(b, a).length).toBeGreaterThan(0)
    expect(connectionsTo(b, a).every(addr => addr.includes('/tcp/'))).toBe(true)
  })

  it('refuses an announce address that is not a multiaddr', async () => {
    await expect(cluster.node({ announceAddrs: ['not-an-address'] })).rejects.toBeInstanceOf(InvalidInputError)
    await expect(cluster.node({ announceAddrs: ['not-an-address'] })).rejects.toThrow(/announce has an invalid multiaddr "not-an-address"/)
  })
})
