/**
 * Announcing many blocks with one sweep of the key space (sweepProvide and
 * kadDiscovery's provideMany), on real libp2p nodes: TCP on 127.0.0.1, Noise,
 * Yamux, the DDS DHT.
 */
import { createHash, randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { cidForBlock, type CID } from '../../src/cid.js'
import { kadDiscovery, type Provider } from '../../src/discovery/index.js'
import { kadKey, keyPart, sweepProvide, type SweepProgress } from '../../src/discovery/sweep.js'
import type { DdsLibp2p } from '../../src/network/libp2p.js'
import type { PeerId, Stream } from '@libp2p/interface'
import { Cluster } from '../utils/cluster.js'
import { waitFor } from '../utils/wait.js'

const net = new Cluster()

afterEach(async () => {
  await net.stop()
})

interface DhtInternals {
  protocol: string
  routingTable: { size: number }
  providers: { getProviders(cid: CID): Promise<PeerId[]> }
}

const dhtOf = (node: DdsLibp2p): DhtInternals => node.services.dht as unknown as DhtInternals

function randomCids (count: number): CID[] {
  return Array.from({ length: count }, () => cidForBlock(randomBytes(48)))
}

const sha256 = (bytes: Uint8Array): Buffer => createHash('sha256').update(bytes).digest()

/** The `count` nodes closest to `cid`'s Kademlia key by XOR distance. */
function closestNodes (nodes: DdsLibp2p[], cid: CID, count: number): string[] {
  const key = sha256(cid.multihash.bytes)
  const distance = (node: DdsLibp2p): Buffer => {
    const id = sha256(node.peerId.toMultihash().bytes)
    return Buffer.from(id.map((b, i) => b ^ key[i]!))
  }
  return [...nodes].sort((a, b) => Buffer.compare(distance(a), distance(b))).slice(0, count).map(n => n.peerId.toString())
}

/** The nodes whose DHT provider store names `provider` for `cid`. */
async function holdersOfRecord (nodes: DdsLibp2p[], cid: CID, provider: PeerId): Promise<string[]> {
  const holding = await Promise.all(nodes.map(async node => {
    const providers = await dhtOf(node).providers.getProviders(cid)
    return providers.some(p => p.equals(provider)) ? node.peerId.toString() : undefined
  }))
  return holding.filter((id): id is string => id != null).sort()
}

/** Connects every node to every other and waits for the DHT tables to hold them all. */
async function mesh (nodes: DdsLibp2p[]): Promise<void> {
  await Promise.all(nodes.flatMap((a, i) => nodes.slice(i + 1).map(async b => { await a.dial(b.getMultiaddrs(), { signal: AbortSignal.timeout(10_000) }) })))
  await waitFor(() => nodes.every(node => dhtOf(node).routingTable.size === nodes.length - 1), 'every DHT routing table to hold every node')
}

async function collect (source: AsyncIterable<Provider>): Promise<string[]> {
  const out: string[] = []
  for await (const provider of source) {
    out.push(provider.peerId.toString())
  }
  return out
}

describe('sweepProvide', () => {
  it('puts each record on exactly the peers closest to its key, with far fewer walks than records', async () => {
    const nodes = await net.libp2ps(10)
    await mesh(nodes)
    const [announcer, ...others] = nodes as [DdsLibp2p, ...DdsLibp2p[]]
    const cids = randomCids(300)
    const progress: SweepProgress[] = []

    const result = await sweepProvide(
      { dht: announcer.services.dht, peerId: announcer.peerId, libp2p: announcer, protocol: dhtOf(announcer).protocol },
      cids,
      { replicas: 3, onProgress: p => { progress.push(p) } }
    )

    expect(result.peers, result.failures.join('\n')).toEqual(cids.map(() => 3))
    expect(result.messages).toBe(cids.length * 3)
    // nine peers, three per record: a walk serves every key in the part of the key space its three closest peers share
    // (one walk may serve them all: when the third closest peer to the first key lies in the other half of the key space)
    expect(result.lookups).toBeGreaterThanOrEqual(1)
    expect(result.lookups).toBeLessThan(cids.length / 4)
    expect(progress.at(-1)).toMatchObject({ done: cids.length, total: cids.length })
    for (const cid of cids.slice(0, 40)) {
      expect(await holdersOfRecord(others, cid, announcer.peerId)).toEqual(closestNodes(others, cid, 3).sort())
    }
  })
})

/** A libp2p that opens the announcer's DHT streams and counts how many are open at once, and to how many peers. */
function countingStreams (announcer: DdsLibp2p): { libp2p: { getMultiaddrs: DdsLibp2p['getMultiaddrs'], dialProtocol: DdsLibp2p['dialProtocol'] }, most: () => number, peers: () => number } {
  let open = 0
  let most = 0
  const peers = new Set<string>()
  const dialProtocol = async (peer: PeerId, protocol: string, options?: { signal?: AbortSignal }): Promise<Stream> => {
    peers.add(peer.toString())
    open++
    most = Math.max(most, open)
    let stream: Stream
    try {
      stream = await announcer.dialProtocol(peer, protocol, options)
    } catch (err) {
      open--
      throw err
    }
    let counted = true
    const closed = (): void => {
      if (counted) {
        counted = false
        open--
      }
    }
    const close = stream.close.bind(stream)
    const abort = stream.abort.bind(stream)
    stream.close = async (opts) => { try { await close(opts) } finally { closed() } }
    stream.abort = (err) => { closed(); abort(err) }
    return stream
  }
  return { libp2p: { getMultiaddrs: () => announcer.getMultiaddrs(), dialProtocol: dialProtocol as DdsLibp2p['dialProtocol'] }, most: () => most, peers: () => peers.size }
}

describe('sweepProvide peer concurrency', () => {
  it('sends to no more peers at once than peerConcurrency, and to 8 by default', async () => {
    const nodes = await net.libp2ps(10)
    await mesh(nodes)
    const [announcer, ...others] = nodes as [DdsLibp2p, ...DdsLibp2p[]]
    const cids = randomCids(200)

    const one = countingStreams(announcer)
    const paced = await sweepProvide({ dht: announcer.services.dht, peerId: announcer.peerId, libp2p: one.libp2p, protocol: dhtOf(announcer).protocol }, cids, { replicas: 9, peerConcurrency: 1 })
    expect(paced.peers, paced.failures.join('\n')).toEqual(cids.map(() => 9))
    expect(one.most()).toBe(1)
    expect(one.peers()).toBe(9)

    const wide = countingStreams(announcer)
    const full = await sweepProvide({ dht: announcer.services.dht, peerId: announcer.peerId, libp2p: wide.libp2p, protocol: dhtOf(announcer).protocol }, cids, { replicas: 9 })
    expect(full.peers, full.failures.join('\n')).toEqual(cids.map(() => 9))
    // nine peers take every record: the first slice opens a stream to eight of them at once
    expect(wide.most()).toBe(8)
    expect(await holdersOfRecord(others, cids[0]!, announcer.peerId)).toHaveLength(9)
  })
})

describe('sweepProvide failures', () => {
  it('counts every peer it could not send to, and keeps the reasons of the first few', async () => {
    const nodes = await net.libp2ps(10)
    await mesh(nodes)
    const [announcer, ...others] = nodes as [DdsLibp2p, ...DdsLibp2p[]]
    // three of the nine peers refuse the DHT protocol's streams (as a peer that went away would)
    const refused = new Set(others.slice(0, 3).map(n => n.peerId.toString()))
    let refusals = 0
    const libp2p = {
      getMultiaddrs: () => announcer.getMultiaddrs(),
      dialProtocol: async (peer: PeerId, protocol: string, options?: { signal?: AbortSignal }) => {
        if (refused.has(peer.toString())) {
          refusals++
          throw new Error('stream refused')
        }
        return announcer.dialProtocol(peer, protocol, options)
      }
    }
    const cids = randomCids(300)

    const result = await sweepProvide({ dht: announcer.services.dht, peerId: announcer.peerId, libp2p, protocol: dhtOf(announcer).protocol }, cids, { replicas: 3 })

    // each peer given up on was tried twice
    expect(refusals % 2).toBe(0)
    expect(result.failedPeers).toBe(refusals / 2)
    expect(result.failedPeers).toBeGreaterThan(0)
    expect(result.failures).toHaveLength(Math.min(8, result.failedPeers))
    expect(result.failures.every(text => text.includes('stream refused'))).toBe(true)
    // each record still reached those of its closest peers that took streams
    expect(result.peers).toEqual(cids.map(cid => closestNodes(others, cid, 3).filter(id => !refused.has(id)).length))
  })
})

describe('kadDiscovery provideMany', () => {
  it('announces hundreds of CIDs so that another node finds the announcer for any of them', async () => {
    const nodes = await net.libp2ps(6)
    await mesh(nodes)
    const [announcer, , , , , finder] = nodes as [DdsLibp2p, DdsLibp2p, DdsLibp2p, DdsLibp2p, DdsLibp2p, DdsLibp2p]
    const discovery = kadDiscovery()({ dht: announcer.services.dht, peerId: announcer.peerId, libp2p: announcer })
    expect(discovery.provideMany).toBeTypeOf('function')
    const cids = randomCids(500)
    const done: number[] = []

    const { peers, failures } = await discovery.provideMany!(cids, { onProgress: p => { done.push(p.done) } })

    // five other nodes, fewer than K: every one takes every record
    expect(peers, failures?.join('\n')).toEqual(cids.map(() => 5))
    expect(done.at(-1)).toBe(cids.length)
    const finding = kadDiscovery({ findTimeout: 10_000 })({ dht: finder.services.dht, peerId: finder.peerId })
    for (const cid of [cids[0]!, cids[250]!, cids[499]!]) {
      expect(await collect(finding.findProviders(cid, 1))).toEqual([announcer.peerId.toString()])
    }
  })

  it('keeps the records locally and reports 0 peers on a node that knows no DHT peer', async () => {
    const [lone] = await net.libp2ps(1)
    if (lone == null) throw new Error('spawn failed')
    const discovery = kadDiscovery()({ dht: lone.services.dht, peerId: lone.peerId, libp2p: lone })
    const cids = randomCids(3)
    expect(await discovery.provideMany!(cids)).toEqual({ peers: [0, 0, 0] })
    for (const cid of cids) {
      expect((await dhtOf(lone).providers.getProviders(cid)).map(String)).toEqual([lone.peerId.toString()])
    }
  })

  it('is absent without the libp2p node, so blocks are announced one by one', async () => {
    const [node] = await net.libp2ps(1)
    if (node == null) throw new Error('spawn failed')
    expect(kadDiscovery()({ dht: node.services.dht, peerId: node.peerId }).provideMany).toBeUndefined()
  })
})

describe('kadDiscovery reannouncePart', () => {
  it('sends again, part by part of the key space, every record this node holds of its own, and only those', async () => {
    const nodes = await net.libp2ps(4)
    await mesh(nodes)
    const [announcer, other, , keeper] = nodes as [DdsLibp2p, DdsLibp2p, DdsLibp2p, DdsLibp2p]
    const discovery = kadDiscovery()({ dht: announcer.services.dht, peerId: announcer.peerId, libp2p: announcer })
    const mine = randomCids(60)
    await discovery.provideMany!(mine)
    // a record of another node's, which the announcer stores as a DHT server, is not its to announce
    const theirs = randomCids(1)
    await kadDiscovery()({ dht: other.services.dht, peerId: other.peerId, libp2p: other }).provideMany!(theirs)
    // the keeper forgets everything, as records expire
    const store = (keeper.services.dht as unknown as { providers: { removeProvider(cid: CID, peer: PeerId): Promise<void> } }).providers
    for (const cid of [...mine, ...theirs]) {
      await store.removeProvider(cid, announcer.peerId)
      await store.removeProvider(cid, other.peerId)
    }

    const parts = 4
    const inPart = (part: number): CID[] => mine.filter(cid => keyPart(kadKey(cid.multihash.bytes), parts) === part)
    const first = await discovery.reannouncePart!(0, parts)
    expect(first).toEqual({ records: inPart(0).length, reached: inPart(0).length })
    for (const cid of mine) {
      const held = (await holdersOfRecord([keeper], cid, announcer.peerId)).length
      expect(held).toBe(keyPart(kadKey(cid.multihash.bytes), parts) === 0 ? 1 : 0)
    }
    let records = first.records
    for (const part of [1, 2, 3]) {
      records += (await discovery.reannouncePart!(part, parts)).records
    }
    expect(records).toBe(mine.length)
    for (const cid of mine) {
      expect(await holdersOfRecord([keeper], cid, announcer.peerId)).toEqual([keeper.peerId.toString()])
    }
    expect(await holdersOfRecord([keeper], theirs[0]!, other.peerId)).toEqual([])
    await expect(discovery.reannouncePart!(4, parts)).rejects.toThrow(/part must be/)
  })

  it('sends to one peer at a time, where announcing new records sends to up to eight', async () => {
    const nodes = await net.libp2ps(7)
    await mesh(nodes)
    const [announcer] = nodes as [DdsLibp2p, ...DdsLibp2p[]]
    const streams = countingStreams(announcer)
    const discovery = kadDiscovery()({ dht: announcer.services.dht, peerId: announcer.peerId, libp2p: streams.libp2p })
    const cids = randomCids(100)

    // six other nodes, fewer than K: every one takes every record
    const announced = await discovery.provideMany!(cids)
    expect(announced.peers, announced.failures?.join('\n')).toEqual(cids.map(() => 6))
    expect(streams.most()).toBe(6)

    const again = countingStreams(announcer)
    const reannouncing = kadDiscovery()({ dht: announcer.services.dht, peerId: announcer.peerId, libp2p: again.libp2p })
    expect(await reannouncing.reannouncePart!(0, 1)).toEqual({ records: cids.length, reached: cids.length })
    // the same six peers, one after the other
    expect(again.peers()).toBe(6)
    expect(again.most()).toBe(1)
  })
})

