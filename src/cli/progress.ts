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
  /** Bytes counted so far. */
  readonly bytes: number
  /** Removes the bar. */
  stop (): void
}

/**
 * A byte counter; with `show`, also a bar for `label`. `total` is the expected
 * size when known (a file's size, a Content-Length); without it the bar
 * shows bytes and rate only.
 */
export function createProgress (label: string, total: number | undefined, show: boolean): Progress {
  const known = total != null && Number.isFinite(total) && total > 0
  const bar = show
    ? new SingleBar({
      stream: process.stderr,
      format: known
        ? `${label} [{bar}] {percentage}% | {done} / {size} | {rate} | ETA {eta_formatted}`
        : `${label} {done} | {rate}`,
      hideCursor: true,
      clearOnComplete: true,
      barsize: 30,
      etaBuffer: 50,
      fps: 5
    })
    : undefined
  const started = performance.now()
  let bytes = 0
  const payload = (): Record<string, string> => {
    const seconds = (performance.now() - started) / 1000
    return {
      done: formatBytes(bytes),
      size: formatBytes(total ?? 0),
      rate: seconds > 0 ? `${formatBytes(Math.round(bytes / seconds))}/s` : '-'
    }
  }
  bar?.start(known ? total : 1, 0, payload())
  const counter = new Transform({
    transform (chunk: Buffer, _encoding, callback) {
      bytes += chunk.byteLength
      bar?.update(known ? Math.min(bytes, total) : 0, payload())
      callback(null, chunk)
    }
  })
  let stopped = false
  return {
    counter,
    get bytes () { return bytes },
    stop () {
      if (!stopped) {
        stopped = true
        bar?.stop()
      }
    }
  }
}
