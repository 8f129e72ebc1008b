/**
 * Admission of replicas against the quota, with concurrent instructions.
 * A real publishing node and, on the accepting side, the real parts over a
 * memory store: a libp2p node, the network service, kad discovery, the
 * retrieval engine, the pin index, the gc lock and the pin fetcher. While the
 * test holds the gc lock exclusively, accepted fetches wait for it, so their
 * reservations are all that count against the quota: the outcome depends on
 * the order of events, not on how fast anything runs.
 */
import { describe, it, expect, afterEach } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import { Dds, CHUNK_SIZE, createDdsLibp2p, memoryStorage, parseCid, kadDiscovery } from '../../src/index.js'
import { recordStore } from '../../src/storage/index.js'
import { networkService } from '../../src/network/index.js'
import { retrievalService } from '../../src/retrieval/index.js'
import { Status } from '../../src/pb/index.js'
import { Admission, type AdmissionInit } from '../../src/replication/admission.js'
import { PINS_TABLE } from '../../src/replication/constants.js'
import { PinFetcher } from '../../src/replication/fetcher.js'
import { GcLock } from '../../src/replication/lock.js'
import { PinIndex } from '../../src/replication/pins.js'
import { pseudoRandomBytes } from '../utils/content.js'

const CONTENT = 2 * CHUNK_SIZE

describe('replica admission', () => {
  const cleanup: Array<() => Promise<unknown>> = []
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) {
      await step().catch(() => {})
    }
  })

  /** A publisher holding `count` contents of CONTENT bytes, and an accepting node connected to it. */
  async function setup (count: number, init: Partial<AdmissionInit>, maxStoredBytes = Number.MAX_SAFE_INTEGER): Promise<{ publisher: Dds, cids: string[], admission: Admission, fetcher: PinFetcher, pins: PinIndex, lock: GcLock }> {
    const publisher = await Dds.create({ replication: { factor: 1 } })
    cleanup.push(async () => publisher.stop())
    const cids = await Promise.all(Array.from({ length: count }, async (_, i) => publisher.publish(pseudoRandomBytes(CONTENT, 300 + i))))
    const storage = memoryStorage()
    await storage.open()
    cleanup.push(async () => storage.close())
    const node = await createDdsLibp2p()
    cleanup.push(async () => node.stop())
    const network = networkService()({ libp2p: node, storage })
    await network.start()
    cleanup.push(async () => network.stop())
    const discovery = kadDiscovery()({ dht: node.services.dht, peerId: node.peerId })
    const retrieval = retrievalService({ providerTimeoutMs: 3_000 })({ network, discovery, storage, connectedPeers: () => node.getPeers() })
    await node.dial(publisher.libp2p.getMultiaddrs(), { signal: AbortSignal.timeout(10_000) })
    const shutdown = new AbortController()
    cleanup.unshift(async () => { shutdown.abort() })
    const pins = new PinIndex(recordStore(storage, PINS_TABLE))
    const lock = new GcLock()
    const fetcher = new PinFetcher({ storage, retrieval, pins, lock, announceContent: () => {}, shutdown: shutdown.signal })
    const admission = new Admission({ pins, retrieval, fetcher, shutdown: shutdown.signal, storage, maxStoredBytes }, {
      accept: 'any', quotaBytes: 1024 * 1024 * 1024, perPeerShare: 1, maxReplicaFetches: 4, ...init
    })
    return { publisher, cids, admission, fetcher, pins, lock }
  }

  async function instruct (admission: Admission, cid: string, from: PeerId): Promise<{ status: Status, error?: string }> {
    return admission.handleInstruction(parseCid(cid), [], from, AbortSignal.timeout(10_000))
  }

  async function replicas (pins: PinIndex): Promise<Array<{ cid: string, state: string, for?: string }>> {
    const held = []
    for await (const { cid, state, for: owner } of pins.list()) held.push({ cid, state, for: owner })
    return held
  }

  it('refuses a replica that would fill the store past maxStoredBytes, counting fetches still running', async () => {
    const { publisher, cids, admission, lock } = await setup(2, {}, CONTENT + CONTENT / 2)
    // the first fetch is held back, so its bytes are only reserved when the second arrives
    const answers = await lock.withExclusive(async () => [
      await instruct(admission, cids[0]!, publisher.libp2p.peerId),
      await instruct(admission, cids[1]!, publisher.libp2p.peerId)
    ])
    expect(answers[0]!.status).toBe(Status.OK)
    expect(answers[1]!.status).toBe(Status.REJECTED)
    expect(answers[1]!.error).toMatch(/store is full/)
  })

  it('accepts concurrent instructions only up to the quota: reservations count before any pin exists', async () => {
    const { publisher, cids, admission, fetcher, pins, lock } = await setup(3, { quotaBytes: 3 * CHUNK_SIZE })
    const answers = await lock.withExclusive(async () => Promise.all(cids.map(async cid => instruct(admission, cid, publisher.libp2p.peerId))))
    expect(answers.filter(a => a.status === Status.OK)).toHaveLength(1)
    const refused = answers.filter(a => a.status === Status.REJECTED)
    expect(refused).toHaveLength(2)
    refused.forEach(a => { expect(a.error).toContain('exceed this node\'s replica quota') })
    await fetcher.settled()
    const accepted = cids[answers.findIndex(a => a.status === Status.OK)]
    expect(await replicas(pins)).toEqual([{ cid: accepted, state: 'complete', for: publisher.peerId }])
  })

  it('counts a finished replica once, from its pin, after its reservation is released', async () => {
    const { publisher, cids, admission, fetcher, pins } = await setup(3, { quotaBytes: 5 * CHUNK_SIZE })
    const from = publisher.libp2p.peerId
    expect(await instruct(admission, cids[0]!, from)).toEqual({ status: Status.OK })
    await fetcher.settled()
    expect(await instruct(admission, cids[1]!, from)).toEqual({ status: Status.OK })
    expect((await instruct(admission, cids[2]!, from)).status).toBe(Status.REJECTED)
    // asked again for a content it holds or is fetching, it answers OK and fetches nothing more
    expect(await instruct(admission, cids[1]!, from)).toEqual({ status: Status.OK })
    await fetcher.settled()
    expect((await replicas(pins)).map(p => p.cid).sort()).toEqual([cids[0], cids[1]].sort())
  })

  it('keeps one peer within its share of the quota while another peer still fits', async () => {
    const { cids, admission, fetcher, pins, lock } = await setup(3, { quotaBytes: 4 * CHUNK_SIZE, perPeerShare: 0.5 })
    const one = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const two = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const [ofOne, ofTwo] = await lock.withExclusive(async () => [
      await Promise.all([instruct(admission, cids[0]!, one), instruct(admission, cids[1]!, one)]),
      await instruct(admission, cids[2]!, two)
    ] as const)
    expect(ofOne.map(a => a.status).sort()).toEqual([Status.OK, Status.REJECTED].sort())
    expect(ofOne.find(a => a.status === Status.REJECTED)?.error).toContain(`used by ${one.toString()}`)
    expect(ofTwo).toEqual({ status: Status.OK })
    await fetcher.settled()
    expect((await replicas(pins)).filter(p => p.for === one.toString())).toHaveLength(1)
  })

  it('answers BUSY past maxReplicaFetches, and REJECTED for a peer the policy does not accept', async () => {
    const allowed = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const stranger = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const { cids, admission, fetcher, lock } = await setup(2, { maxReplicaFetches: 1, accept: [allowed.toString()] })
    expect(await instruct(admission, cids[0]!, stranger)).toMatchObject({ status: Status.REJECTED, error: expect.stringContaining('allow list') })
    const answers = await lock.withExclusive(async () => [
      await instruct(admission, cids[0]!, allowed), await instruct(admission, cids[1]!, allowed)
    ])
    expect(answers.map(a => a.status)).toEqual([Status.OK, Status.BUSY])
    await fetcher.settled()
  })
})
