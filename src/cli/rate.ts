/**
 * Byte rates given on the command line, in environment variables and in the
 * config file: `5MiB`, `500KiB`, `2.5MB`, `65536` (bytes), each per second;
 * a trailing `/s` is allowed.
 *
 * @module
 */

import { MIN_BANDWIDTH_RATE } from '../network/bandwidth.js'
import { CliError } from './errors.js'

type ErrorClass = new (message: string, options?: ErrorOptions) => CliError

/** Bytes per unit, by lower-case unit name. */
const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3
}

/**
 * Parses a rate such as `5MiB` (per second) into whole bytes per second, at
 * least `MIN_BANDWIDTH_RATE` (64 KiB). `value` is what the user gave (a
 * number in a config file is bytes per second).
 *
 * @throws {CliError} (of class `Err`) naming `source` and what a rate looks like
 */
export function parseByteRate (value: unknown, source: string, Err: ErrorClass = CliError): number {
  const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : ''
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)(?:\/s)?$/i.exec(text)
  const unit = match != null ? UNITS[match[2]!.toLowerCase()] : undefined
  const bytes = match != null && unit != null ? Math.floor(Number(match[1]) * unit) : NaN
  if (!Number.isSafeInteger(bytes)) {
    throw new Err(`invalid ${source} ${JSON.stringify(value) ?? String(value)}: expected bytes per second such as 5MiB, 500KiB or 1048576`)
  }
  if (bytes < MIN_BANDWIDTH_RATE) {
    throw new Err(`invalid ${source} ${JSON.stringify(value)}: a bandwidth limit is at least 64KiB (${MIN_BANDWIDTH_RATE} bytes per second)`)
  }
  return bytes
}
