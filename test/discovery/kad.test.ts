/**
 * kadDiscovery on real libp2p nodes (TCP on 127.0.0.1, Noise, Yamux, the DDS
 * DHT), wired by the shared Cluster harness.
 */
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { cidForBlock, type CID } from '../../src/cid.js'
import { kadDiscovery, type Discovery, type KadDiscoveryInit, type Provider } from '../../src/discovery/index.js'
import type { DdsLibp2p } from '../../src/network/libp2p.js'
import type { KadDHT } from '@libp2p/kad-dht'
import type { PeerId } from '@libp2p/interface'
import { Cluster } from '../utils/cluster.js'
import { WAIT_MS, waitFor } from '../utils/wait.js'

const net = new Cluster()

afterEach(async () => {
  await net.stop()
})

/** Short deadlines keep a test that goes wrong from hanging the suite. */
function discoveryOf (node: DdsLibp2p, init: KadDiscoveryInit = {}, dht: KadDHT = node.services.dht): Discovery {
  return kadDiscovery({ provideTimeout: 10_000, findTimeout: 10_000, ...init })({ dht, peerId: node.peerId })
}

function randomCid (): CID {
  return cidForBlock(randomBytes(64))
}

function routingTableOf (node: DdsLibp2p): { size: number, remove(peer: PeerId): Promise<void> } {
  return (node.services.dht as unknown as { routingTable: { size: number, remove(peer: PeerId): Promise<void> } }).routingTable
}

/**
 * Waits until every node has a DHT peer. Cluster.connect returns once
 * identify has run; kad-dht adds the peer a few ms later, after pinging it,
 * and until then provide() sees an empty routing table and reports 0 peers.
 */
async function tablesFilled (...nodes: DdsLibp2p[]): Promise<void> {
  await waitFor(() => nodes.every(node => routingTableOf(node).size > 0), 'DHT routing tables to hold a peer')
}

async function collect (source: AsyncIterable<Provider>): Promise<Provider[]> {
  const out: Provider[] = []
  for await (const provider of source) {
    out.push(provider)
  }
  return out
}

/** The real DHT, with the signal of every findProviders query it runs recorded. */
function watchFindSignals (dht: KadDHT): { dht: KadDHT, signals: AbortSignal[] } {
  const signals: AbortSignal[] = []
  const watched = new Proxy(dht, {
    get (target, prop) {
      if (prop === 'findProviders') {
        return (cid: CID, options: { signal: AbortSignal }) => {
          signals.push(options.signal)
          return target.findProviders(cid, options)
        }
      }
      const value: unknown = Reflect.get(target, prop, target)
      return typeof value === 'function' ? value.bind(target) : value
    }
  })
  return { dht: watched, signals }
}

async function rejection (promise: Promise<unknown>): Promise<Error> {
  try {
    await promise
  } catch (err) {
    return err as Error
  }
  throw new Error('expected a rejection')
}

const ids = (providers: Provider[]): string[] => providers.map(p => p.peerId.toString()).sort()
const idOf = (peer: { peerId: PeerId }): string => peer.peerId.toString()
const nodeIds = (nodes: DdsLibp2p[]): string[] => nodes.map(idOf).sort()

describe('kadDiscovery on a star (A-B, C-B)', () => {
  it('announces on A, and C finds A through B with dialable 127.0.0.1 addresses', async () => {
    const [a, b, c] = await net.libp2ps(3)
    if (a == null || b == null || c == null) throw new Error('spawn failed')
    // A announces while only B knows it, so the record lives on B (and A)
    await net.connect(a, b)
    await tablesFilled(a, b)
    const cid = randomCid()
    const { peers } = await discoveryOf(a).provide(cid)
    expect(peers).toBeGreaterThanOrEqual(1)

    // C joins through B and never dials A itself
    await net.connect(c, b)
    await tablesFilled(c)
    await c.hangUp(a.peerId)

    const found = await collect(discoveryOf(c).findProviders(cid, 1))
    expect(found.map(idOf)).toEqual([a.peerId.toString()])
    const addrs = found[0]?.multiaddrs ?? []
    expect(addrs.length).toBeGreaterThan(0)
    for (const ma of addrs) {
      expect(ma.toString()).toMatch(/^\/ip4\/127\.0\.0\.1\/(tcp\/\d+|udp\/\d+\/quic-v1)/)
    }
    const listening = a.getMultiaddrs().map(ma => ma.decapsulateCode(421).toString())
    expect(addrs.map(ma => ma.decapsulateCode(421).toString())).toEqual(expect.arrayContaining(listening))

    const connection = await c.dial(addrs, { signal: AbortSignal.timeout(WAIT_MS) })
    expect(connection.remotePeer.equals(a.peerId)).toBe(true)
  })

  it('stops at count, never yields itself, and yields each provider once', async () => {
    const [hub, p1, p2, p3, p4, seeker] = await net.libp2ps(6)
    if (hub == null || p1 == null || p2 == null || p3 == null || p4 == null || seeker == null) throw new Error('spawn failed')
    const providers = [p1, p2, p3, p4]
    await net.star(hub, [...providers, seeker])
    await tablesFilled(hub, ...providers, seeker)
    const cid = randomCid()

    for (const p of providers) {
      const { peers } = await discoveryOf(p).provide(cid)
      expect(peers).toBeGreaterThanOrEqual(1)
    }

    const { dht, signals } = watchFindSignals(seeker.services.dht)
    const two = await collect(discoveryOf(seeker, {}, dht).findProviders(cid, 2))
    expect(two).toHaveLength(2)
    expect(new Set(ids(two)).size).toBe(2)
    expect(ids(two).every(id => providers.some(p => p.peerId.toString() === id))).toBe(true)
    // stopping at count cancelled the DHT query
    expect(signals).toHaveLength(1)
    expect(signals[0]?.aborted).toBe(true)

    // every provider once, though several peers hold each record
    const all = await collect(discoveryOf(seeker).findProviders(cid, 10))
    expect(ids(all)).toEqual(nodeIds(providers))

    // a provider searching finds the others, never itself (kad-dht lists it first from its local store)
    const others = await collect(discoveryOf(p1).findProviders(cid, 10))
    expect(ids(others)).toEqual(nodeIds([p2, p3, p4]))
  })

  it('ends with nothing for a CID nobody provides', async () => {
    const [a, b, c] = await net.libp2ps(3)
    if (a == null || b == null || c == null) throw new Error('spawn failed')
    await net.star(b, [a, c])
    await tablesFilled(a, b, c)

    const found = await collect(discoveryOf(c, { findTimeout: 1_000 }).findProviders(randomCid(), 1))
    expect(found).toEqual([])
  })

  it('ends without an error when findTimeout runs out', async () => {
    const [a, b, c] = await net.libp2ps(3)
    if (a == null || b == null || c == null) throw new Error('spawn failed')
    await net.star(b, [a, c])
    await tablesFilled(a, b, c)

    const { dht, signals } = watchFindSignals(c.services.dht)
    const found = await collect(discoveryOf(c, { findTimeout: 1 }, dht).findProviders(randomCid(), 1))
    expect(found).toEqual([])
    // the deadline, not an exhausted search, ended the query
    expect((signals[0]?.reason as Error | undefined)?.name).toBe('TimeoutError')
  })

  it('throws TimeoutError from provide when no peer took the record in time', async () => {
    const [a, b] = await net.libp2ps(2)
    if (a == null || b == null) throw new Error('spawn failed')
    await net.connect(a, b)
    await tablesFilled(a, b)

    const err = await rejection(discoveryOf(a, { provideTimeout: 1 }).provide(randomCid()))
    expect(err.name).toBe('TimeoutError')
    expect(err.message).toMatch(/no DHT peer took the provider record/)
  })
})

describe('kadDiscovery on a lone node', () => {
  it('provide reports 0 peers and findProviders ends with nothing', async () => {
    const [lone] = await net.libp2ps(1)
    if (lone == null) throw new Error('spawn failed')
    const discovery = discoveryOf(lone, { provideTimeout: 60_000, findTimeout: 60_000 })
    const cid = randomCid()

    expect(await discovery.provide(cid)).toEqual({ peers: 0 })
    expect(await collect(discovery.findProviders(cid, 1))).toEqual([])
  })

  it('keeps the record, so a peer that joins later finds the node', async () => {
    const [a, b] = await net.libp2ps(2)
    if (a == null || b == null) throw new Error('spawn failed')
    const cid = randomCid()
    expect(await discoveryOf(a).provide(cid)).toEqual({ peers: 0 })

    await net.connect(b, a)
    await tablesFilled(a, b)
    const found = await collect(discoveryOf(b).findProviders(cid, 1))
    expect(found.map(idOf)).toEqual([a.peerId.toString()])
  })

  it('answers from its local provider store when it knows no DHT peer', async () => {
    const [a, b] = await net.libp2ps(2)
    if (a == null || b == null) throw new Error('spawn failed')
    await net.connect(a, b)
    await tablesFilled(a, b)
    const cid = randomCid()
    expect((await discoveryOf(a).provide(cid)).peers).toBe(1)

    // B now holds A's record; empty B's routing table
    const table = routingTableOf(b)
    await table.remove(a.peerId)
    expect(table.size).toBe(0)

    const found = await collect(discoveryOf(b, { findTimeout: 60_000 }).findProviders(cid, 5))
    expect(found.map(idOf)).toEqual([a.peerId.toString()])
  })
})

describe('kadDiscovery cancellation and input checks', () => {
  it('throws AbortError for an already-aborted signal', async () => {
    const [a, b] = await net.libp2ps(2)
    if (a == null || b == null) throw new Error('spawn failed')
    await net.connect(a, b)
    await tablesFilled(a, b)
    const signal = AbortSignal.abort()

    for (const node of [a, b]) {
      const discovery = discoveryOf(node)
      expect((await rejection(discovery.provide(randomCid(), { signal }))).name).toBe('AbortError')
      expect((await rejection(collect(discovery.findProviders(randomCid(), 1, { signal })))).name).toBe('AbortError')
    }
    // and on a lone node, which takes the shortcut
    const [lone] = await net.libp2ps(1)
    if (lone == null) throw new Error('spawn failed')
    expect((await rejection(discoveryOf(lone).provide(randomCid(), { signal }))).name).toBe('AbortError')
    expect((await rejection(collect(discoveryOf(lone).findProviders(randomCid(), 1, { signal })))).name).toBe('AbortError')
  })

  it('throws AbortError when aborted mid-find, and cancels the DHT query', async () => {
    const [hub, p1, p2, seeker] = await net.libp2ps(4)
    if (hub == null || p1 == null || p2 == null || seeker == null) throw new Error('spawn failed')
    await net.star(hub, [p1, p2, seeker])
    await tablesFilled(hub, p1, p2, seeker)
    const cid = randomCid()
    await discoveryOf(p1).provide(cid)
    await discoveryOf(p2).provide(cid)

    const { dht, signals } = watchFindSignals(seeker.services.dht)
    const controller = new AbortController()
    const seen: Provider[] = []
    const err = await rejection((async () => {
      for await (const provider of discoveryOf(seeker, {}, dht).findProviders(cid, 10, { signal: controller.signal })) {
        seen.push(provider)
        controller.abort()
      }
    })())
    expect(err.name).toBe('AbortError')
    expect(seen).toHaveLength(1)
    expect(signals[0]?.aborted).toBe(true)
  })

  it('cancels the DHT query when the caller stops iterating', async () => {
    const [hub, p1, p2, seeker] = await net.libp2ps(4)
    if (hub == null || p1 == null || p2 == null || seeker == null) throw new Error('spawn failed')
    await net.star(hub, [p1, p2, seeker])
    await tablesFilled(hub, p1, p2, seeker)
    const cid = randomCid()
    await discoveryOf(p1).provide(cid)
    await discoveryOf(p2).provide(cid)

    const { dht, signals } = watchFindSignals(seeker.services.dht)
    for await (const provider of discoveryOf(seeker, {}, dht).findProviders(cid, 10)) {
      expect(provider.peerId.equals(seeker.peerId)).toBe(false)
      break
    }
    expect(signals[0]?.aborted).toBe(true)
  })

  it('rejects a count that is not a positive integer', async () => {
    const [node] = await net.libp2ps(1)
    if (node == null) throw new Error('spawn failed')
    const discovery = discoveryOf(node)
    for (const count of [0, -1, 1.5, Number.NaN]) {
      let error: unknown
      try {
        await collect(discovery.findProviders(randomCid(), count))
      } catch (err) {
        error = err
      }
      expect((error as Error | undefined)?.name, `count ${count}`).toBe('InvalidInputError')
    }
  })

  it('rejects timeouts that are not positive', async () => {
    const [node] = await net.libp2ps(1)
    if (node == null) throw new Error('spawn failed')
    expect(() => discoveryOf(node, { provideTimeout: 0 })).toThrow(expect.objectContaining({ name: 'InvalidInputError' }))
    expect(() => discoveryOf(node, { findTimeout: -5 })).toThrow(expect.objectContaining({ name: 'InvalidInputError' }))
  })
})
