/**
 * The requester side, against real libp2p nodes on 127.0.0.1: deadlines that
 * start once a request has a slot, a stream opened for several callers, late
 * and duplicate answers, and what a peer's error text may do to our errors.
 */
import { describe, it, expect, afterEach } from 'vitest'
import { randomBytes } from 'node:crypto'
import type { Libp2p } from 'libp2p'
import type { CID } from 'multiformats/cid'
import { cidForBlock } from '../../src/cid.js'
import { AbortError, DdsError, RemoteError, TimeoutError } from '../../src/errors.js'
import { Status } from '../../src/pb/index.js'
import type { StorageProvider } from '../../src/storage/index.js'
import { PENALTY_PROTOCOL_VIOLATION, PENALTY_TIMEOUT } from '../../src/network/constants.js'
import { bareNode, learn, scriptedResponder, serviceNode, type ServiceNode } from './harness.js'
import { DDS_PROTOCOL } from '../../src/network/constants.js'
import { heldStorage } from '../utils/slow-storage.js'
import { waitFor, whenAborted } from '../utils/wait.js'

const CHUNK = 262144

describe('requester', () => {
  const nodes: Array<{ stop(): Promise<void> | void }> = []
  afterEach(async () => {
    await Promise.allSettled(nodes.splice(0).map(async n => n.stop()))
  })

  async function service (init: Parameters<typeof serviceNode>[0] = {}, storage?: StorageProvider): Promise<ServiceNode> {
    const node = await serviceNode(init, storage)
    nodes.push(node)
    return node
  }

  async function responder (...args: Parameters<typeof scriptedResponder>): Promise<Libp2p> {
    const node = await scriptedResponder(...args)
    nodes.push(node)
    return node
  }

  async function storedBlock (node: ServiceNode, size = CHUNK): Promise<{ cid: CID, block: Uint8Array }> {
    const block = randomBytes(size)
    const cid = cidForBlock(block)
    await node.storage.put(cid, block)
    return { cid, block }
  }

  it('starts a request deadline once it has a slot: requests queued behind maxInFlightPerPeer neither time out nor penalise', async () => {
    // The target holds its first answer until the queued requests have
    // waited longer than their own deadline; had their deadlines started
    // when they were made, they would all have timed out.
    const held = heldStorage()
    const target = await service({}, held.storage)
    const { cid, block } = await storedBlock(target)
    const requester = await service({ maxInFlightPerPeer: 1 })
    await learn(requester.libp2p, target.libp2p)
    const first = requester.network.retrieveBlock(target.peerId, cid, { timeoutMs: 60_000 })
    await waitFor(() => held.reads() === 1, 'the first request to reach the target')
    const timeoutMs = 3_000
    const queued = Array.from({ length: 9 }, async () => requester.network.retrieveBlock(target.peerId, cid, { timeoutMs }))
    await whenAborted(AbortSignal.timeout(timeoutMs))
    // they were queued, not sent: the target saw only the first
    expect(held.reads()).toBe(1)
    held.release()
    const results = await Promise.allSettled([first, ...queued])
    for (const result of results) {
      expect(result.status, result.status === 'rejected' ? String(result.reason) : '').toBe('fulfilled')
      expect(Buffer.from((result as PromiseFulfilledResult<Uint8Array>).value).equals(block)).toBe(true)
    }
    expect(held.reads()).toBe(10)
    expect(requester.network.scores.standing(target.peerId.toString()).score).toBe(0)
  })

  it('penalises a peer for a request it was sent and did not answer in time', async () => {
    const block = randomBytes(100)
    const cid = cidForBlock(block)
    // answers the first request, which opens the stream, and no other: the
    // request that times out is then handed to the stream at once, however
    // loaded the machine (only a request that was sent costs a penalty)
    let answered = false
    const silent = await responder((req, reply) => {
      if (!answered) {
        answered = true
        reply({ id: req.id, retrieveChunk: { status: Status.OK, data: block } })
      }
    })
    const requester = await service()
    await learn(requester.libp2p, silent)
    await requester.network.retrieveBlock(silent.peerId, cid, { timeoutMs: 10_000 })
    const err = await requester.network.retrieveBlock(silent.peerId, cid, { timeoutMs: 1000 }).catch(e => e)
    expect(err).toBeInstanceOf(TimeoutError)
    expect(requester.network.scores.standing(silent.peerId.toString()).score).toBe(-PENALTY_TIMEOUT)
  })

  for (const when of ['at once', 'while the stream is being opened'] as const) {
    it(`a caller that aborts ${when} does not fail the others waiting for the same new stream`, async () => {
      const target = await service()
      const { cid, block } = await storedBlock(target, 5000)
      const requester = await service()
      await learn(requester.libp2p, target.libp2p)
      const controller = new AbortController()
      const first = requester.network.retrieveBlock(target.peerId, cid, { signal: controller.signal })
      const second = requester.network.retrieveBlock(target.peerId, cid, { timeoutMs: 10_000 })
      if (when === 'at once') {
        controller.abort()
      } else {
        // the connection is up and the stream not yet opened on it
        requester.libp2p.addEventListener('connection:open', () => { controller.abort() }, { once: true })
      }
      const firstErr = await first.catch(e => e)
      expect(firstErr).toBeInstanceOf(AbortError)
      expect(Buffer.from(await second).equals(block)).toBe(true)
      expect(requester.network.scores.standing(target.peerId.toString()).score).toBe(0)
    })
  }

  it('throws the DDS AbortError and TimeoutError for a signal that already fired', async () => {
    const target = await service()
    const { cid } = await storedBlock(target, 100)
    const requester = await service()
    await learn(requester.libp2p, target.libp2p)
    const aborted = await requester.network.retrieveBlock(target.peerId, cid, { signal: AbortSignal.abort() }).catch(e => e)
    expect(aborted).toBeInstanceOf(AbortError)
    expect(aborted).toBeInstanceOf(DdsError)
    const timedOut = AbortSignal.timeout(1)
    await whenAborted(timedOut)
    const late = await requester.network.retrieveBlock(target.peerId, cid, { signal: timedOut }).catch(e => e)
    expect(late).toBeInstanceOf(TimeoutError)
  })

  it('accepts a late answer to a request it gave up on, and counts a duplicate answer as a violation', async () => {
    const block = randomBytes(1000)
    const cid = cidForBlock(block)
    let mode: 'once' | 'late' | 'twice' = 'once'
    // The late answer goes out just before the answer to the next request,
    // so it has been read by the time that request resolves.
    let late: (() => void) | undefined
    const peer = await responder((req, reply) => {
      const answer = { id: req.id, retrieveChunk: { status: Status.OK, data: block } }
      if (mode === 'once') {
        reply(answer)
      } else if (mode === 'late') {
        late = () => { reply(answer) }
      } else {
        late?.()
        late = undefined
        reply(answer)
        reply(answer)
      }
    })
    const requester = await service()
    await learn(requester.libp2p, peer)
    const key = peer.peerId.toString()
    // the stream is open before the request that times out, so that request
    // is handed to it at once, however loaded the machine: only a request
    // that was sent costs the peer a timeout penalty
    await requester.network.retrieveBlock(peer.peerId, cid, { timeoutMs: 10_000 })

    // Timed out after it was sent: a timeout penalty.
    mode = 'late'
    await expect(requester.network.retrieveBlock(peer.peerId, cid, { timeoutMs: 1000 })).rejects.toBeInstanceOf(TimeoutError)
    await waitFor(() => requester.network.scores.standing(key).score === -PENALTY_TIMEOUT, 'the timeout penalty')
    expect(late).toBeDefined()

    // A request answered twice (after the late answer): the second answer was asked for by nobody.
    mode = 'twice'
    const got = await requester.network.retrieveBlock(peer.peerId, cid, { timeoutMs: 10_000 })
    expect(Buffer.from(got).equals(block)).toBe(true)
    await waitFor(() => requester.network.scores.standing(key).score < -PENALTY_TIMEOUT, 'the duplicate answer to be penalised')
    const standing = requester.network.scores.standing(key)
    expect(standing.lastReason).toMatch(/answered request/)
    // one violation, not two: the late answer was no violation (two would have banned the peer)
    expect(standing.banned).toBe(false)
    expect(standing.score).toBeGreaterThan(-PENALTY_TIMEOUT - 2 * PENALTY_PROTOCOL_VIOLATION)
  })

  it("cuts a peer's error text to a bounded length", async () => {
    const huge = 'x'.repeat(500_000) + '\nforged log line'
    let arm: 'retrieveChunk' | 'error' = 'retrieveChunk'
    const peer = await responder((req, reply) => {
      reply(arm === 'retrieveChunk'
        ? { id: req.id, retrieveChunk: { status: Status.NOT_FOUND, error: huge } }
        : { id: req.id, error: { status: Status.BUSY, error: huge } })
    })
    const requester = await service()
    await learn(requester.libp2p, peer)
    const cid = cidForBlock(randomBytes(100))
    const notFound = await requester.network.retrieveBlock(peer.peerId, cid, { timeoutMs: 10_000 }).catch(e => e)
    expect(notFound).toMatchObject({ name: 'NotFoundError' })
    arm = 'error'
    const busy = await requester.network.retrieveBlock(peer.peerId, cid, { timeoutMs: 10_000 }).catch(e => e)
    // BUSY is its own RemoteError: come back later, with no wait named here
    expect(busy).toMatchObject({ name: 'BusyError', retryAfterMs: 0 })
    expect(busy).toBeInstanceOf(RemoteError)
    for (const err of [notFound as Error, busy as Error]) {
      expect(err.message.length).toBeLessThan(600)
      expect(err.message).toContain('xxxx')
      expect(err.message).not.toContain('\n')
    }
  })

  it('says whether the peer reset the stream or closed it', async () => {
    const peer = await bareNode()
    nodes.push(peer)
    let reset = true
    await peer.handle(DDS_PROTOCOL, (stream) => {
      stream.addEventListener('message', () => {
        if (reset) {
          stream.abort(new Error('refused'))
        } else {
          stream.close().catch(() => {})
        }
      })
    })
    const requester = await service()
    await learn(requester.libp2p, peer)
    const cid = cidForBlock(randomBytes(100))
    const wasReset = await requester.network.retrieveBlock(peer.peerId, cid, { timeoutMs: 10_000 }).catch(e => e)
    expect(wasReset).toBeInstanceOf(RemoteError)
    expect(wasReset.message).toContain('the peer reset the stream')
    reset = false
    const wasClosed = await requester.network.retrieveBlock(peer.peerId, cid, { timeoutMs: 10_000 }).catch(e => e)
    expect(wasClosed).toBeInstanceOf(RemoteError)
    expect(wasClosed.message).toContain('the peer closed the stream')
  })
})
