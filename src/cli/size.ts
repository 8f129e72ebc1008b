/**
 * Sizes people write: `512MiB`, `10GB`, `1.5 GiB`, `0`, `1048576`.
 *
 * @module
 */

/** Bytes of each unit: decimal (kB, MB, GB, TB) and binary (KiB, MiB, GiB, TiB). */
const UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40
}

/**
 * Parses a size: a number (bytes without a unit) and an optional unit, case
 * insensitive, with or without a space between. Returns whole bytes, or
 * undefined when `text` is not a size.
 */
export function parseSize (text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim())
  if (match == null) {
    return undefined
  }
  const unit = match[2]!.toLowerCase()
  const factor = unit === '' ? 1 : UNITS[unit]
  if (factor == null) {
    return undefined
  }
  const bytes = Math.floor(Number(match[1]) * factor)
  return Number.isSafeInteger(bytes) ? bytes : undefined
}
