/**
 * The responder's limits, against real libp2p nodes on 127.0.0.1: peers that
 * pipeline requests and never read the answers, handlers that never finish,
 * BUSY past the node-wide and per-peer limits, and StoreChunk against the
 * store policy and the store-size limit.
 */
import { describe, it, expect, afterEach } from 'vitest'
import { randomBytes } from 'node:crypto'
import type { Libp2p } from 'libp2p'
import type { CID } from 'multiformats/cid'
import { cidForBlock } from '../../src/cid.js'
import { Status, type RequestProps } from '../../src/pb/index.js'
import { RawStream, bareNode, encodeFrames, idOf, learn, serviceNode, statusOf, type ServiceNode } from './harness.js'
import { pb } from '../../src/pb/index.js'
import { waitFor } from '../utils/wait.js'

const CHUNK = 262144

describe('responder limits', () => {
  const nodes: Array<{ stop(): Promise<void> | void }> = []
  afterEach(async () => {
    await Promise.allSettled(nodes.splice(0).map(async n => n.stop()))
  })

  async function service (init: Parameters<typeof serviceNode>[0] = {}): Promise<ServiceNode> {
    const node = await serviceNode(init)
    nodes.push(node)
    return node
  }

  async function bare (): Promise<Libp2p> {
    const node = await bareNode()
    nodes.push(node)
    return node
  }

  async function storedBlock (node: ServiceNode, size = CHUNK): Promise<{ cid: CID, block: Uint8Array }> {
    const block = randomBytes(size)
    const cid = cidForBlock(block)
    await node.storage.put(cid, block)
    return { cid, block }
  }

  function retrieve (id: number, cid: CID): RequestProps {
    return { id, retrieveChunk: { cid: cid.bytes } }
  }

  it('a peer that pipelines requests on many streams and never reads holds neither the node nor its streams', async () => {
    // long enough that the honest peer is served while the attacker's streams stand, even on a loaded machine
    const handlerTimeoutMs = 4000
    const idleTimeoutMs = 1000
    const target = await service({ maxConcurrentRequests: 32, maxRequestsPerStream: 8, maxRequestsPerPeer: 16, handlerTimeoutMs, idleTimeoutMs })
    const { cid, block } = await storedBlock(target)
    const attacker = await bare()
    const honest = await service()
    await learn(attacker, target.libp2p)
    await learn(honest.libp2p, target.libp2p)

    // 6 streams x 20 requests for a 256 KiB block, never read: 48 answers
    // at once would be more than all 32 node-wide slots.
    const raws = await Promise.all(Array.from({ length: 6 }, async () => RawStream.open(attacker, target.peerId, { paused: true })))
    for (const [s, raw] of raws.entries()) {
      expect(raw.push(encodeFrames(Array.from({ length: 20 }, (_, i) => pb.Request.encode(retrieve(s * 100 + i + 1, cid)).finish())))).toBe(true)
    }
    // every request reached the node (the attacker's streams are paused, not their writes)
    await waitFor(() => raws.every(r => r.stream.writeBufferLength === 0), 'the requests to reach the node')

    // Another peer is served at once, not answered BUSY, while the attacker's streams still stand.
    // (BUSY would fail at once; the deadline only guards against a hang)
    const got = await honest.network.retrieveBlock(target.peerId, cid, { timeoutMs: 10_000 })
    expect(Buffer.from(got).equals(block)).toBe(true)
    expect(raws.every(r => !r.done)).toBe(true)

    // The answers the attacker does not read have a deadline: the streams
    // they block are reset after it, and streams whose (BUSY) answers all went
    // out are dropped once idle.
    await waitFor(() => raws.every(r => r.done), "the attacker's streams to be reset")
    expect(raws.every(r => r.reset)).toBe(true)
    const again = await honest.network.retrieveBlock(target.peerId, cid, { timeoutMs: 10_000 })
    expect(Buffer.from(again).equals(block)).toBe(true)
  })

  it('counts BUSY answers against maxRequestsPerStream: the stream stops being read', async () => {
    const target = await service({ maxConcurrentRequests: 1, maxRequestsPerStream: 4, handlerTimeoutMs: 1500 })
    const { cid } = await storedBlock(target)
    const attacker = await bare()
    await learn(attacker, target.libp2p)
    const raw = await RawStream.open(attacker, target.peerId, { paused: true })
    // Two answers that overflow the attacker's receive window (the second
    // holds the node's only slot while it waits), then 4 MiB of requests,
    // padded to 1 KiB with an unknown field, that can only be answered BUSY.
    const padding = Uint8Array.from([0xc2, 0x3e, 0xe8, 0x07, ...new Uint8Array(1000)]) // field 1000, wire type 2, 1000 bytes
    const padded = (id: number): Uint8Array => Uint8Array.from([...pb.Request.encode(retrieve(id, cid)).finish(), ...padding])
    expect(pb.Request.decode(padded(7)).body).toBe('retrieveChunk')
    raw.push(encodeFrames([1, 2].map(id => pb.Request.encode(retrieve(id, cid)).finish())))
    await waitFor(() => raw.stream.writeBufferLength === 0, 'the first two requests to reach the node')
    raw.push(encodeFrames(Array.from({ length: 4096 }, (_, i) => padded(i + 3))))
    // What the node has not read stays in the attacker's write buffer, which
    // only shrinks, until the node resets the stream: its last size before
    // the reset is the least the node left unread.
    let unread = Infinity
    await waitFor(() => {
      if (raw.done) {
        return true
      }
      unread = Math.min(unread, raw.stream.writeBufferLength)
      return false
    }, 'the stream to be reset', undefined, 5)
    expect(raw.reset).toBe(true)
    // The node read at most its flow-control window of them, not all 4 MiB.
    expect(unread).toBeGreaterThan(2 * 1024 * 1024)
  })

  it('answers ERROR when a handler outlives handlerTimeoutMs, and frees its slot', async () => {
    let seen: AbortSignal | undefined
    const target = await service({
      handlerTimeoutMs: 300,
      maxConcurrentRequests: 1,
      onReplicate: async (_cid, _sources, _from, signal) => {
        seen = signal
        return new Promise(() => {})
      }
    })
    const { cid, block } = await storedBlock(target, 1000)
    const requester = await service()
    await learn(requester.libp2p, target.libp2p)

    // the node's answer, not our own deadline (that would be a TimeoutError)
    const err = await requester.network.replicate(target.peerId, cid, [], { timeoutMs: 30_000 }).catch(e => e)
    expect(err).toMatchObject({ name: 'RemoteError' })
    expect((err as Error).message).toMatch(/ERROR.*deadline/)
    expect(seen?.aborted).toBe(true)
    // The only slot is free again: not BUSY.
    const got = await requester.network.retrieveBlock(target.peerId, cid, { timeoutMs: 10_000 })
    expect(Buffer.from(got).equals(block)).toBe(true)
    expect(requester.network.scores.standing(target.peerId.toString()).score).toBe(0)
  })

  it('answers BUSY past maxConcurrentRequests', async () => {
    let release!: () => void
    const released = new Promise<void>(resolve => { release = resolve })
    const target = await service({
      maxConcurrentRequests: 1,
      onReplicate: async () => { await released; return { status: Status.OK } }
    })
    const { cid } = await storedBlock(target, 1000)
    const peer = await bare()
    await learn(peer, target.libp2p)
    const raw = await RawStream.open(peer, target.peerId)
    expect(await raw.writeRequests([{ id: 1, replicate: { cid: cid.bytes } }, retrieve(2, cid)])).toBe(true)
    const [busy] = await raw.waitForResponses(1)
    expect(idOf(busy)).toBe(2)
    expect(busy?.body).toBe('retrieveChunk')
    expect(statusOf(busy)).toBe(Status.BUSY)
    release()
    const responses = await raw.waitForResponses(2)
    expect(idOf(responses[1])).toBe(1)
    expect(statusOf(responses[1])).toBe(Status.OK)
    // The slot is free again.
    expect(await raw.writeRequests([retrieve(3, cid)])).toBe(true)
    const third = (await raw.waitForResponses(3))[2]
    expect(idOf(third)).toBe(3)
    expect(statusOf(third)).toBe(Status.OK)
    raw.abort()
  })

  it('answers BUSY past maxRequestsPerPeer, over all of its streams, and keeps serving other peers', async () => {
    const target = await service({
      maxRequestsPerPeer: 1,
      onReplicate: async () => new Promise(() => {})
    })
    const { cid, block } = await storedBlock(target, 1000)
    const greedy = await bare()
    await learn(greedy, target.libp2p)
    const first = await RawStream.open(greedy, target.peerId)
    expect(await first.writeRequests([{ id: 1, replicate: { cid: cid.bytes } }, retrieve(2, cid)])).toBe(true)
    const [busy] = await first.waitForResponses(1)
    expect(idOf(busy)).toBe(2)
    expect(statusOf(busy)).toBe(Status.BUSY)
    const second = await RawStream.open(greedy, target.peerId)
    expect(await second.writeRequests([retrieve(3, cid)])).toBe(true)
    const [alsoBusy] = await second.waitForResponses(1)
    expect(idOf(alsoBusy)).toBe(3)
    expect(statusOf(alsoBusy)).toBe(Status.BUSY)

    const other = await service()
    await learn(other.libp2p, target.libp2p)
    const got = await other.network.retrieveBlock(target.peerId, cid, { timeoutMs: 10_000 })
    expect(Buffer.from(got).equals(block)).toBe(true)
    first.abort()
    second.abort()
  })

  it("refuses StoreChunks past maxStoredBytes even when they arrive together, and stores nothing beyond it", async () => {
    const target = await service({ storePolicy: 'any', maxStoredBytes: 5000 })
    const peer = await bare()
    await learn(peer, target.libp2p)
    const blocks = Array.from({ length: 10 }, () => randomBytes(1000))
    const raw = await RawStream.open(peer, target.peerId)
    // All ten in one write: the node works on them at the same time.
    expect(await raw.writeRequests(blocks.map((block, i) => ({ id: i + 1, storeChunk: { cid: cidForBlock(block).bytes, data: block } })))).toBe(true)
    const responses = await raw.waitForResponses(10)
    const statuses = responses.map(r => statusOf(r))
    expect(statuses.filter(s => s === Status.OK)).toHaveLength(5)
    expect(statuses.filter(s => s === Status.REJECTED)).toHaveLength(5)
    const stats = await target.storage.stats()
    expect(stats.bytes).toBe(5000)
    expect(stats.blocks).toBe(5)
    let held = 0
    for (const block of blocks) {
      held += (await target.storage.has(cidForBlock(block))) ? 1 : 0
    }
    expect(held).toBe(5)
    raw.abort()
  })

  it('stores what a function store policy accepts and rejects the rest', async () => {
    const allowed = randomBytes(2000)
    const refused = randomBytes(2000)
    const allowedCid = cidForBlock(allowed)
    const asked: string[] = []
    const target = await service({
      storePolicy: (peer, cid, size) => {
        asked.push(`${peer.toString()} ${cid.toString()} ${size}`)
        return cid.equals(allowedCid)
      }
    })
    const requester = await service()
    await learn(requester.libp2p, target.libp2p)
    await requester.network.storeBlock(target.peerId, allowedCid, allowed, { timeoutMs: 10_000 })
    expect(await target.storage.has(allowedCid)).toBe(true)
    await expect(requester.network.storeBlock(target.peerId, cidForBlock(refused), refused, { timeoutMs: 10_000 }))
      .rejects.toMatchObject({ name: 'RejectedError' })
    expect(await target.storage.has(cidForBlock(refused))).toBe(false)
    expect(asked).toEqual([
      `${requester.peerId.toString()} ${allowedCid.toString()} 2000`,
      `${requester.peerId.toString()} ${cidForBlock(refused).toString()} 2000`
    ])
  })
})
