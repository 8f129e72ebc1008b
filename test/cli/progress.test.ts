/** The ETA of the progress bar: a rate smoothed over seconds, fed with explicit times (no clock). */
import { describe, it, expect } from 'vitest'
import { RateEstimator, formatEta } from '../../src/cli/progress.js'

const CHUNK = 262144

describe('RateEstimator', () => {
  it('keeps a steady ETA when bytes arrive in bursts at a steady average rate', () => {
    // 1 MiB/s on average, as bursts of four chunks every second with
    // updates of a few pieces between them: the last few updates alone say
    // anything from 0 to many MiB/s
    const total = 100 * 1024 * 1024
    const rate = new RateEstimator(0)
    const etas: number[] = []
    let bytes = 0
    for (let second = 0; second < 60; second++) {
      for (let piece = 0; piece < 4; piece++) {
        bytes += CHUNK
        rate.update(second + 0.01 * piece, bytes)
      }
      rate.update(second + 0.9, bytes)
      const eta = rate.eta(total - bytes)
      if (second >= 5 && eta != null) {
        etas.push(eta + second)
      }
    }
    // the predicted finish time (now + ETA) stays put: within 10% of the true one
    const finish = total / (1024 * 1024)
    for (const predicted of etas) {
      expect(Math.abs(predicted - finish) / finish).toBeLessThan(0.1)
    }
    // and two seconds apart, the ETA moves by about two seconds, never by a factor
    for (let i = 2; i < etas.length; i++) {
      expect(Math.abs(etas[i]! - etas[i - 2]!)).toBeLessThan(finish * 0.05)
    }
  })

  it('follows a real change of rate within a few windows', () => {
    const rate = new RateEstimator(0)
    let bytes = 0
    for (let t = 1; t <= 20; t++) {
      bytes += 1_000_000
      rate.update(t, bytes)
    }
    expect(rate.bytesPerSecond).toBeCloseTo(1_000_000, -3)
    for (let t = 21; t <= 45; t++) {
      bytes += 4_000_000
      rate.update(t, bytes)
    }
    expect(rate.bytesPerSecond! / 4_000_000).toBeGreaterThan(0.95)
  })

  it('has no ETA before its first interval, nor at a rate of zero', () => {
    const rate = new RateEstimator(0)
    rate.update(0.1, 1000)
    expect(rate.eta(1000)).toBeUndefined()
    rate.update(1, 1000)
    expect(rate.eta(1000)).toBeDefined()
    const stalled = new RateEstimator(0)
    stalled.update(1, 0)
    expect(stalled.eta(1000)).toBeUndefined()
  })
})

describe('formatEta', () => {
  it.each([[undefined, '-'], [0, '0s'], [45.4, '45s'], [75, '1m15s'], [3725, '1h02m']])('%s s -> %s', (seconds, text) => {
    expect(formatEta(seconds)).toBe(text)
  })
})
