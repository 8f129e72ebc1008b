// Medians with their spread, and the few unit conversions the report uses.
import { MiB } from './content.mjs'

/** `{ median, min, max, n, samples }` of a list of numbers (null when empty). */
export function summarize (samples) {
  const values = samples.filter(v => Number.isFinite(v))
  if (values.length === 0) {
    return null
  }
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  const median = sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
  return { median, min: sorted[0], max: sorted.at(-1), n: values.length, samples: values }
}

/** MiB/s of `bytes` moved in `ms` milliseconds. */
export function mibPerSec (bytes, ms) {
  return ms > 0 ? bytes / MiB / (ms / 1000) : NaN
}

/** The ratio of two summaries' medians (null when either is missing). */
export function ratio (a, b) {
  if (a == null || b == null || !(b.median > 0)) {
    return null
  }
  return a.median / b.median
}
