/**
 * The token buckets of the bandwidth limits, against an injected clock (and
 * vitest's fake timers where the limiter waits): how many tokens are granted
 * when, never how long anything took.
 */
import { describe, it, expect, afterEach, vi } from 'vitest'
import {
  BandwidthLimiter, TokenBucket, MIN_BANDWIDTH_BURST, MIN_BANDWIDTH_RATE, burstFor, resolveBandwidthInit, requestTurn, EXPECTED_ANSWER_BYTES
} from '../../src/network/bandwidth.js'

const KiB = 1024
const MiB = 1024 * KiB

/** A clock the test moves by hand. */
function manualClock (): { now: () => number, advance: (ms: number) => void } {
  let t = 1_000
  return { now: () => t, advance: (ms) => { t += ms } }
}

describe('TokenBucket', () => {
  it('starts full, grants a burst at once and then charges the rate', () => {
    const clock = manualClock()
    const bucket = new TokenBucket(1000, 500, clock.now)
    expect(bucket.reserve(500)).toBe(0)
    // empty: 100 more tokens are paid for in 100 ms
    expect(bucket.reserve(100)).toBe(100)
    // a later reservation waits behind the first one's debt
    expect(bucket.reserve(100)).toBe(200)
    clock.advance(200)
    expect(bucket.available).toBe(0)
    clock.advance(10_000)
    // never more than the burst, however long it was idle
    expect(bucket.available).toBe(500)
  })

  it('lets a frame larger than the burst through, in debt that later takers wait out', () => {
    const clock = manualClock()
    const bucket = new TokenBucket(1000, 100, clock.now)
    expect(bucket.reserve(1000)).toBe(900)
    clock.advance(900)
    expect(bucket.reserve(1)).toBe(1)
  })

  it('grants no more than burst + rate x time to a taker that honours its waits', () => {
    const clock = manualClock()
    const rate = 5 * MiB
    const bucket = new TokenBucket(rate, burstFor(rate), clock.now)
    const frame = 256 * KiB + 20
    let granted = 0
    // 10 s of a greedy sender: each frame waits what reserve() says
    while (true) {
      const wait = bucket.reserve(frame)
      if (clock.now() + wait > 1_000 + 10_000) {
        break
      }
      clock.advance(wait)
      granted += frame
    }
    expect(granted).toBeLessThanOrEqual(burstFor(rate) + rate * 10)
    expect(granted).toBeGreaterThanOrEqual(rate * 10 - frame)
  })

  it('takes back refunded tokens, up to the burst', () => {
    const clock = manualClock()
    const bucket = new TokenBucket(1000, 500, clock.now)
    bucket.reserve(800)
    bucket.refund(800)
    expect(bucket.available).toBe(500)
  })
})

describe('resolveBandwidthInit', () => {
  it('keeps the limits given, leaves the others unlimited', () => {
    expect(resolveBandwidthInit({})).toEqual({})
    expect(resolveBandwidthInit({ upload: 5 * MiB })).toEqual({ upload: 5 * MiB })
    expect(resolveBandwidthInit({ download: MIN_BANDWIDTH_RATE, uploadPerPeer: MiB })).toEqual({ download: MIN_BANDWIDTH_RATE, uploadPerPeer: MiB })
  })

  it.each([
    ['below the least rate', { upload: MIN_BANDWIDTH_RATE - 1 }, /bandwidth.upload must be an integer of at least 65536, got 65535/],
    ['zero', { download: 0 }, /bandwidth.download/],
    ['negative', { uploadPerPeer: -5 }, /bandwidth.uploadPerPeer/],
    ['a fraction', { upload: 100_000.5 }, /bandwidth.upload/],
    ['not a number', { upload: '5MiB' as unknown as number }, /bandwidth.upload/],
    ['infinite', { upload: Infinity }, /bandwidth.upload/],
    ['not an object', 5 as unknown as object, /bandwidth must be an object/]
  ])('rejects a limit that is %s with InvalidInputError', (_label, init, message) => {
    let error: unknown
    try {
      resolveBandwidthInit(init)
    } catch (err) {
      error = err
    }
    expect((error as Error).name).toBe('InvalidInputError')
    expect((error as Error).message).toMatch(message)
  })

  it('gives every bucket at least one chunk of burst', () => {
    expect(burstFor(MIN_BANDWIDTH_RATE)).toBe(MIN_BANDWIDTH_BURST)
    expect(burstFor(10 * MiB)).toBe(Math.ceil(10 * MiB / 4))
  })
})

describe('BandwidthLimiter', () => {
  afterEach(() => { vi.useRealTimers() })

  it('does nothing without limits', async () => {
    const limiter = new BandwidthLimiter({})
    expect(limiter.limitsUpload).toBe(false)
    expect(limiter.limitsDownload).toBe(false)
    expect(requestTurn(limiter, 'p', { retrieveChunk: {} }, undefined)).toBeUndefined()
    expect(requestTurn(limiter, 'p', { storeChunk: { data: new Uint8Array(10) } }, undefined)).toBeUndefined()
  })

  it('serves peers sharing the upload in turn', async () => {
    vi.useFakeTimers()
    const rate = MIN_BANDWIDTH_RATE * 4
    const limiter = new BandwidthLimiter({ upload: rate }, () => Date.now())
    const frame = 64 * KiB
    const order: string[] = []
    const all: Array<Promise<void>> = []
    // both peers ask as fast as they can: 20 frames each, asked alternately
    for (let i = 0; i < 20; i++) {
      for (const peer of ['a', 'b']) {
        all.push(limiter.takeUpload(peer, frame).then(() => { order.push(peer) }))
      }
    }
    await vi.runAllTimersAsync()
    await Promise.all(all)
    // at any point the two are at most one frame apart
    let a = 0
    let b = 0
    for (const peer of order) {
      peer === 'a' ? a++ : b++
      expect(Math.abs(a - b)).toBeLessThanOrEqual(1)
    }
    const stats = limiter.stats
    expect(stats.upload.bytes).toBe(40 * frame)
    expect(stats.upload.waits).toBeGreaterThan(0)
    expect(stats.limits).toEqual({ upload: rate })
  })

  /**
   * Greedy peers keep 64 frames waiting each; the honest peer keeps 2 (it
   * asks again as each is granted). Returns the honest peer's share of the
   * first `grants` frames granted.
   */
  async function honestShare (greedy: Array<{ peer: string, prefix: string }>, honestPrefix: string, grants: number): Promise<number> {
    vi.useFakeTimers()
    const limiter = new BandwidthLimiter({ upload: MIN_BANDWIDTH_RATE * 4 }, () => Date.now())
    const frame = 64 * KiB
    const order: string[] = []
    const controller = new AbortController()
    const pending: Array<Promise<void>> = []
    const take = (peer: string, prefix: string, again: boolean): void => {
      pending.push(limiter.takeUpload(peer, frame, controller.signal, prefix).then(() => {
        order.push(peer)
        if (again && order.length < grants) take(peer, prefix, true)
      }, () => {}))
    }
    for (const { peer, prefix } of greedy) {
      for (let i = 0; i < 64; i++) take(peer, prefix, false)
    }
    take('honest', honestPrefix, true)
    take('honest', honestPrefix, true)
    while (order.length < grants) await vi.advanceTimersByTimeAsync(100)
    controller.abort()
    await vi.runAllTimersAsync()
    await Promise.all(pending)
    return order.slice(0, grants).filter(p => p === 'honest').length / grants
  }

  it('gives a peer that keeps 2 frames waiting the same turns as one that keeps 64', async () => {
    expect(await honestShare([{ peer: 'g', prefix: 'p' }], 'p', 60)).toBeCloseTo(1 / 2, 1)
  })

  it('shares turns by address prefix first, then by peer within a prefix', async () => {
    const four = ['g1', 'g2', 'g3', 'g4']
    // four greedy identities on the honest peer's prefix: one turn in five
    expect(await honestShare(four.map(peer => ({ peer, prefix: 'p' })), 'p', 100)).toBeCloseTo(1 / 5, 1)
    // on another prefix they share one turn in two
    expect(await honestShare(four.map(peer => ({ peer, prefix: 'q' })), 'p', 100)).toBeCloseTo(1 / 2, 1)
  })

  it('applies the per-peer cap on top of the node cap, and forgets a peer once its debt is paid', async () => {
    vi.useFakeTimers()
    const clock = () => Date.now()
    const limiter = new BandwidthLimiter({ upload: 100 * MiB, uploadPerPeer: MIN_BANDWIDTH_RATE }, clock)
    const burst = burstFor(MIN_BANDWIDTH_RATE)
    // peer a uses its whole burst and more: its next frame waits
    await limiter.takeUpload('a', burst)
    let aDone = false
    const a = limiter.takeUpload('a', MIN_BANDWIDTH_RATE).then(() => { aDone = true })
    // peer b is not held back by a's cap
    let bDone = false
    const b = limiter.takeUpload('b', burst).then(() => { bDone = true })
    await vi.advanceTimersByTimeAsync(0)
    expect(bDone).toBe(true)
    expect(aDone).toBe(false)
    await vi.advanceTimersByTimeAsync(1000)
    await Promise.all([a, b])
    expect(aDone).toBe(true)
    expect(limiter.stats.upload.waits).toBe(1)
    // kept while a bucket is not full again (a fresh one would grant a new burst), then dropped
    expect(limiter.peerBuckets).toBe(2)
    await vi.advanceTimersByTimeAsync(10_000)
    expect(limiter.peerBuckets).toBe(0)
  })

  it('stops waiting when the signal aborts, with its error, and gives the tokens back', async () => {
    vi.useFakeTimers()
    const limiter = new BandwidthLimiter({ download: MIN_BANDWIDTH_RATE }, () => Date.now())
    await limiter.takeDownload(burstFor(MIN_BANDWIDTH_RATE))
    const controller = new AbortController()
    const waiting = limiter.takeDownload(10 * MIN_BANDWIDTH_RATE, controller.signal)
    const seen = waiting.catch((err: Error) => err)
    controller.abort()
    const err = await seen
    expect(err).toBeInstanceOf(Error)
    expect((err as Error).name).toBe('AbortError')
    // the aborted 10 s of debt was given back: a small frame waits only its own share
    let done = false
    const next = limiter.takeDownload(MIN_BANDWIDTH_RATE / 2).then(() => { done = true })
    await vi.advanceTimersByTimeAsync(600)
    await next
    expect(done).toBe(true)
    // only what went through is counted
    expect(limiter.stats.download.bytes).toBe(burstFor(MIN_BANDWIDTH_RATE) + MIN_BANDWIDTH_RATE / 2)
    // an aborted signal is refused at once
    await expect(limiter.takeDownload(1, controller.signal)).rejects.toMatchObject({ name: 'AbortError' })
  })

  it('settles a download reserved before the answer came with what came', async () => {
    const clock = manualClock()
    const limiter = new BandwidthLimiter({ download: MiB }, clock.now)
    const reserved = await requestTurn(limiter, 'p', { retrieveChunk: {} }, undefined)
    expect(reserved).toBe(EXPECTED_ANSWER_BYTES)
    limiter.settleDownload(EXPECTED_ANSWER_BYTES, 1000)
    expect(limiter.stats.download.bytes).toBe(1000)
    limiter.settleDownload(0, 5000)
    expect(limiter.stats.download.bytes).toBe(6000)
  })
})
