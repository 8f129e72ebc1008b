/**
 * The pacing of competing peers without an upload limit (src/network/shares.ts),
 * against a fake clock: a lone peer is never held back; a peer running ahead
 * of a competitor the node slows down is held to (1 + SHARE_HEADROOM) times
 * the competitor's rate, never below the floor; the limit lifts once the
 * competitor leaves; a competitor slow on its own (its requests answered at
 * once) holds nobody back.
 */
import { describe, it, expect, afterEach, vi } from 'vitest'
import { UploadShares } from '../../src/network/shares.js'
import { MIN_COMPETING_RATE, SHARE_BUSY_DEPTH, SHARE_HEADROOM, SHARE_SLICE_MS } from '../../src/network/constants.js'

const CHUNK = 256 * 1024

describe('upload shares', () => {
  afterEach(() => { vi.useRealTimers() })

  /** Sends `count` chunks to `peer` (of `prefix`) at once, waiting for the share as the server does; resolves when all went. */
  async function send (shares: UploadShares, prefix: string, peer: string, count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      await shares.take(prefix, peer, CHUNK)
    }
  }

  it('never holds back a lone peer', async () => {
    vi.useFakeTimers()
    const shares = new UploadShares(() => Date.now())
    for (let slice = 0; slice < 30; slice++) {
      expect(shares.take('ip4:10.0.0', 'a', 40 * CHUNK)).toBeUndefined()
      vi.advanceTimersByTime(SHARE_SLICE_MS)
    }
    expect(shares.limitOf('ip4:10.0.0', 'a')).toBe(Infinity)
    expect(shares.stats.waits).toBe(0)
  })

  it('holds a peer running ahead to a little more than the other competitor, and lets it go once that one leaves', async () => {
    vi.useFakeTimers()
    const shares = new UploadShares(() => Date.now())
    // b takes 4 chunks per slice (10 MiB/s) and has a window of requests
    // waiting on the node all the time (the node slows it down); a asks for
    // 40 per slice, the greedy one
    let aSent = 0
    let bSent = 0
    for (let slice = 0; slice < 50; slice++) {
      for (let i = 0; i < SHARE_BUSY_DEPTH; i++) shares.begin('ip4:10.0.2', 'b')
      void send(shares, 'ip4:10.0.1', 'a', 40).then(() => { aSent += 40 })
      for (let i = 0; i < 4; i++) {
        // the slower competitor never waits
        expect(shares.take('ip4:10.0.2', 'b', CHUNK)).toBeUndefined()
        bSent++
      }
      await vi.advanceTimersByTimeAsync(SHARE_SLICE_MS)
      for (let i = 0; i < SHARE_BUSY_DEPTH; i++) shares.end('ip4:10.0.2', 'b')
    }
    const bRate = 4 * CHUNK * 1000 / SHARE_SLICE_MS
    const aLimit = shares.limitOf('ip4:10.0.1', 'a')
    expect(aLimit).toBeLessThanOrEqual((1 + SHARE_HEADROOM) * bRate * 1.05)
    expect(aLimit).toBeGreaterThanOrEqual(MIN_COMPETING_RATE)
    expect(shares.waiting).toBeGreaterThan(0)

    // b leaves: within a few seconds of slices a is unpaced again and its backlog drains
    for (let slice = 0; slice < 60 && shares.waiting > 0; slice++) {
      await vi.advanceTimersByTimeAsync(SHARE_SLICE_MS)
    }
    expect(shares.waiting).toBe(0)
    await vi.advanceTimersByTimeAsync(20 * SHARE_SLICE_MS)
    expect(shares.limitOf('ip4:10.0.1', 'a')).toBe(Infinity)
    expect(bSent).toBe(200)
    expect(aSent).toBe(2000)
  })

  it('holds nobody back beside a peer slow on its own, whose requests are answered at once', async () => {
    vi.useFakeTimers()
    const shares = new UploadShares(() => Date.now())
    // b asks for 1 chunk per slice (2.5 MiB/s, a slow link) and its request
    // is answered within a millisecond; a asks for 40 per slice
    let aSent = 0
    for (let slice = 0; slice < 50; slice++) {
      void send(shares, 'ip4:10.0.1', 'a', 40).then(() => { aSent += 40 })
      shares.begin('ip4:10.0.2', 'b')
      await vi.advanceTimersByTimeAsync(1)
      expect(shares.take('ip4:10.0.2', 'b', CHUNK)).toBeUndefined()
      shares.end('ip4:10.0.2', 'b')
      await vi.advanceTimersByTimeAsync(SHARE_SLICE_MS - 1)
    }
    await vi.advanceTimersByTimeAsync(SHARE_SLICE_MS)
    expect(aSent).toBe(2000)
    expect(shares.limitOf('ip4:10.0.1', 'a')).toBe(Infinity)
    expect(shares.stats.waits).toBe(0)
  })

  it('counts the requests a peer has waiting on the node, and forgets a peer once its last one ended', async () => {
    vi.useFakeTimers()
    const shares = new UploadShares(() => Date.now())
    shares.begin('ip4:10.0.3', 'c')
    shares.begin('ip4:10.0.3', 'c')
    shares.end('ip4:10.0.3', 'c')
    // still working on one: a long quiet spell does not forget it
    await vi.advanceTimersByTimeAsync(200 * SHARE_SLICE_MS)
    expect(shares.limitOf('ip4:10.0.3', 'c')).toBe(Infinity)
    shares.end('ip4:10.0.3', 'c')
    // an end without a begin (or twice) is harmless
    shares.end('ip4:10.0.3', 'c')
    shares.end('ip4:10.0.9', 'z')
    expect(shares.take('ip4:10.0.3', 'c', CHUNK)).toBeUndefined()
  })

  it('holds several greedy peers that ran alone far below their pace once an honest one competes', async () => {
    vi.useFakeTimers()
    const shares = new UploadShares(() => Date.now())
    // three greedy peers ask for 40 chunks per slice each; b takes 4 (10 MiB/s);
    // all have a window of requests waiting on the node
    // (the greedy ones run for 2 s first: at equal rates none holds another back)
    const greedy = ['a1', 'a2', 'a3']
    for (let slice = 0; slice < 80; slice++) {
      const all = slice < 20 ? greedy : [...greedy, 'b']
      for (const peer of all) for (let i = 0; i < SHARE_BUSY_DEPTH; i++) shares.begin('ip4:10.0.1', peer)
      for (const peer of greedy) send(shares, 'ip4:10.0.1', peer, 40).catch(() => {})
      for (let i = 0; i < 4 && all.includes('b'); i++) {
        expect(shares.take('ip4:10.0.1', 'b', CHUNK)).toBeUndefined()
      }
      await vi.advanceTimersByTimeAsync(SHARE_SLICE_MS)
      for (const peer of all) for (let i = 0; i < SHARE_BUSY_DEPTH; i++) shares.end('ip4:10.0.1', peer)
    }
    // held far below their free pace: near b's, or at the floor (a quarter of
    // an equal share of the recent peak, which the greedy ones set at ~315 MB/s)
    const bRate = 4 * CHUNK * 1000 / SHARE_SLICE_MS
    const freePace = 40 * CHUNK * 1000 / SHARE_SLICE_MS
    for (const peer of greedy) {
      expect(shares.limitOf('ip4:10.0.1', peer)).toBeLessThan(0.25 * freePace)
    }
    expect(shares.waiting).toBeGreaterThan(0)
    expect(shares.limitOf('ip4:10.0.1', 'b')).toBeGreaterThan(bRate)
    shares.clear(new Error('done'))
  })
})
