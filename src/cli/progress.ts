/**
 * The progress bar of `publish` and `get` (bytes, rate, ETA), drawn on stderr
 * with cli-progress only when stderr is a terminal.
 *
 * @module
 */

import { Transform } from 'node:stream'
import { SingleBar } from 'cli-progress'
import { formatBytes } from './format.js'

/** Counts the bytes flowing through a stream and shows them on a bar. */
export interface Progress {
  /** Pass the transferred bytes through this. */
  readonly counter: Transform
  /** Bytes counted so far (not counting `start`). */
  readonly bytes: number
  /** Sets the bytes done so far (not counting `start`), for progress reported as running totals rather than a stream. */
  set (bytes: number): void
  /** Removes the bar. */
  stop (): void
}

/** How far back the rate behind the ETA looks, in seconds (the time constant of its moving average). */
export const RATE_WINDOW_SECONDS = 5

/** Shortest interval between two rate samples, in seconds: bytes arrive in bursts far shorter than this. */
export const RATE_SAMPLE_SECONDS = 0.5

/**
 * A transfer rate smoothed over about RATE_WINDOW_SECONDS: an exponential
 * moving average of the rate over intervals of at least
 * RATE_SAMPLE_SECONDS, weighted by their length. Bytes arrive in bursts (a
 * chunk at a time, and a network write at a time), so the rate of the last
 * few updates swings widely even at a steady throughput, and an ETA made
 * from it jumps; this one moves only as fast as the throughput does.
 */
export class RateEstimator {
  private rate: number | undefined
  private lastTime: number
  private lastBytes: number

  /** Starts at `time` (in seconds) with `bytes` done. */
  constructor (time: number, bytes = 0) {
    this.lastTime = time
    this.lastBytes = bytes
  }

  /** Records that `bytes` (a running total) were done at `time` (in seconds). */
  update (time: number, bytes: number): void {
    const elapsed = time - this.lastTime
    if (elapsed < RATE_SAMPLE_SECONDS) {
      return
    }
    const sample = (bytes - this.lastBytes) / elapsed
    const weight = 1 - Math.exp(-elapsed / RATE_WINDOW_SECONDS)
    this.rate = this.rate == null ? sample : this.rate + weight * (sample - this.rate)
    this.lastTime = time
    this.lastBytes = bytes
  }

  /** Bytes per second, once a first interval has passed. */
  get bytesPerSecond (): number | undefined {
    return this.rate
  }

  /** Seconds until `remaining` more bytes are done at the smoothed rate; undefined before a rate is known or while it is zero. */
  eta (remaining: number): number | undefined {
    return this.rate != null && this.rate > 0 ? remaining / this.rate : undefined
  }
}

/** `75` -> `1m15s`; `3725` -> `1h02m`. */
export function formatEta (seconds: number | undefined): string {
  if (seconds == null || !Number.isFinite(seconds)) {
    return '-'
  }
  const s = Math.round(seconds)
  if (s < 60) {
    return `${s}s`
  }
  if (s < 3600) {
    return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
  }
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
}

/**
 * A byte counter; with `show`, also a bar for `label`. `total` is the expected
 * size when known (a file's size, a Content-Length); without it the bar
 * shows bytes and rate only. `start` is what was done before (the kept part
 * of a resumed download): the bar starts there, and the rate counts only
 * what this run moves.
 */
export function createProgress (label: string, total: number | undefined, show: boolean, start = 0, options: { detail?: () => string } = {}): Progress {
  const known = total != null && Number.isFinite(total) && total > 0
  const bar = show
    ? new SingleBar({
      stream: process.stderr,
      format: known
        ? `${label} [{bar}] {percentage}% | {done} / {size}${options.detail != null ? ' | {detail}' : ''} | {rate} | ETA {eta}`
        : `${label} {done}${options.detail != null ? ' | {detail}' : ''} | {rate}`,
      hideCursor: true,
      clearOnComplete: true,
      barsize: 30,
      fps: 5
    })
    : undefined
  const now = (): number => performance.now() / 1000
  const started = now()
  const rate = new RateEstimator(started)
  let bytes = 0
  const payload = (): Record<string, string> => {
    const time = now()
    rate.update(time, bytes)
    // the average so far until the smoothed rate has its first sample
    const perSecond = rate.bytesPerSecond ?? (time > started ? bytes / (time - started) : undefined)
    return {
      done: formatBytes(start + bytes),
      size: formatBytes(total ?? 0),
      rate: perSecond != null ? `${formatBytes(Math.round(perSecond))}/s` : '-',
      eta: known ? formatEta(rate.eta(total - start - bytes)) : '-',
      detail: options.detail?.() ?? ''
    }
  }
  bar?.start(known ? total : 1, known ? start : 0, payload())
  const counter = new Transform({
    transform (chunk: Buffer, _encoding, callback) {
      bytes += chunk.byteLength
      bar?.update(known ? Math.min(start + bytes, total) : 0, payload())
      callback(null, chunk)
    }
  })
  let stopped = false
  return {
    counter,
    get bytes () { return bytes },
    set (done: number) {
      bytes = done
      bar?.update(known ? Math.min(start + bytes, total) : 0, payload())
    },
    stop () {
      if (!stopped) {
        stopped = true
        bar?.stop()
      }
    }
  }
}
