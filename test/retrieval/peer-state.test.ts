/**
 * PeerState: the per-peer flow control of a retrieval (window, deadline,
 * cost), driven with answer times as the session would report them.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import { beforeAll, describe, expect, it } from 'vitest'
import { PeerState, cheapest, type PeerWindowLimits } from '../../src/retrieval/peer-state.js'
import { LATENCY_EWMA_WEIGHT, TIMEOUT_FACTOR } from '../../src/retrieval/constants.js'

const LIMITS: PeerWindowLimits = { initialWindow: 4, maxWindow: 6, minTimeoutMs: 1_000, maxTimeoutMs: 20_000 }

describe('PeerState', () => {
  let peer: PeerId
  beforeAll(async () => {
    peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  })

  it('starts with the initial window, all of it free', () => {
    const state = new PeerState(peer, LIMITS)
    expect(state.key).toBe(peer.toString())
    expect(state.currentWindow).toBe(4)
    expect(state.capacity).toBe(4)
    expect(state.free).toBe(true)
    expect(state.latencyMs).toBeUndefined()
  })

  it('has no room once its window is in flight, and none at all once dropped', () => {
    const state = new PeerState(peer, LIMITS)
    state.inFlight = 4
    expect(state.free).toBe(false)
    expect(state.capacity).toBe(0)
    state.inFlight = 1
    state.dropped = true
    expect(state.free).toBe(false)
    expect(state.capacity).toBe(0)
  })

  it('grows its window by one per success, up to the most', () => {
    const state = new PeerState(peer, LIMITS)
    for (let i = 0; i < 5; i++) {
      state.succeeded(10)
    }
    expect(state.currentWindow).toBe(LIMITS.maxWindow)
  })

  it('halves its window on a failure, never below one', () => {
    const state = new PeerState(peer, LIMITS)
    state.failed()
    expect(state.currentWindow).toBe(2)
    state.failed()
    state.failed()
    expect(state.currentWindow).toBe(1)
  })

  it('uses the longest deadline until it has answered, then a multiple of its average within the bounds', () => {
    const state = new PeerState(peer, LIMITS)
    expect(state.timeoutMs).toBe(LIMITS.maxTimeoutMs)
    state.succeeded(500)
    expect(state.latencyMs).toBe(500)
    expect(state.timeoutMs).toBe(TIMEOUT_FACTOR * 500)
    const fast = new PeerState(peer, LIMITS)
    fast.succeeded(1)
    expect(fast.timeoutMs).toBe(LIMITS.minTimeoutMs)
    const slow = new PeerState(peer, LIMITS)
    slow.succeeded(60_000)
    expect(slow.timeoutMs).toBe(LIMITS.maxTimeoutMs)
  })

  it('moves its average toward each new answer time', () => {
    const state = new PeerState(peer, LIMITS)
    state.succeeded(100)
    state.succeeded(200)
    expect(state.latencyMs).toBeCloseTo(100 + LATENCY_EWMA_WEIGHT * 100)
  })

  it('counts a late request as a sample and halves its window', () => {
    const state = new PeerState(peer, LIMITS)
    state.late(300)
    expect(state.latencyMs).toBe(300)
    expect(state.currentWindow).toBe(2)
  })

  it('costs more with more in flight and with a slower average', () => {
    const state = new PeerState(peer, LIMITS)
    state.succeeded(100)
    const idle = state.cost
    state.inFlight = 2
    expect(state.cost).toBeGreaterThan(idle)
    const slower = new PeerState(peer, LIMITS)
    slower.succeeded(400)
    expect(slower.cost).toBeGreaterThan(idle)
  })
})

describe('cheapest', () => {
  it('picks the peer expected to answer first, and nobody from an empty list', async () => {
    const peers = await Promise.all([1, 2, 3].map(async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519'))))
    const states = peers.map(p => new PeerState(p, LIMITS))
    states[0]!.succeeded(300)
    states[1]!.succeeded(50)
    states[2]!.succeeded(100)
    expect(cheapest(states)).toBe(states[1])
    states[1]!.inFlight = 5
    expect(cheapest(states)).toBe(states[2])
    expect(cheapest([])).toBeUndefined()
  })
})
