/**
 * The one validator of numeric options: every `init` object of the library
 * fills in its defaults and checks its limits through these, so every limit
 * follows the same rules and a bad value names its option.
 *
 * @module
 */

import { InvalidInputError } from './errors.js'

/** The rule a numeric option obeys. */
export interface NumberRule {
  /** Smallest allowed value. @default 1 for integers; for other numbers, anything above 0 */
  min?: number
  /** Largest allowed value. @default Number.MAX_SAFE_INTEGER */
  max?: number
  /** Whole numbers only. @default true */
  integer?: boolean
}

/**
 * Returns `value`, or `fallback` when it is undefined, after checking it
 * against `rule`: a finite number (a whole one unless `integer: false`)
 * from `min` to `max`.
 *
 * @throws {InvalidInputError} naming the option, the rule and the value given
 */
export function numberOption (name: string, value: number | undefined, fallback: number, rule: NumberRule = {}): number {
  const v = value ?? fallback
  const integer = rule.integer ?? true
  const positive = !integer && rule.min == null
  const min = rule.min ?? (integer ? 1 : 0)
  const max = rule.max ?? Number.MAX_SAFE_INTEGER
  if (typeof v !== 'number' || !Number.isFinite(v) || (integer && !Number.isSafeInteger(v)) || v < min || (positive && v === 0) || v > max) {
    const kind = integer ? 'an integer' : 'a number'
    const bounds = positive
      ? (max === Number.MAX_SAFE_INTEGER ? 'above 0' : `above 0 and at most ${max}`)
      : (max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `from ${min} to ${max}`)
    throw new InvalidInputError(`${name} must be ${kind} ${bounds}, got ${String(value)}`)
  }
  return v
}

/**
 * Longest delay a Node.js timer takes (2^31 - 1 ms, ~24.8 days): a longer one
 * fires after 1 ms instead, so no timeout option may exceed it.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1

/**
 * `numberOption` for a timeout or interval in milliseconds: a whole number
 * from 1 to `MAX_TIMER_MS`.
 *
 * @throws {InvalidInputError} naming the option, the rule and the value given
 */
export function timeoutOption (name: string, value: number | undefined, fallback: number): number {
  return numberOption(name, value, fallback, { max: MAX_TIMER_MS })
}

/**
 * A boolean option: `fallback` when undefined.
 *
 * @throws {InvalidInputError} when the value is not a boolean
 */
export function booleanOption (name: string, value: boolean | undefined, fallback: boolean): boolean {
  if (value === undefined) {
    return fallback
  }
  if (typeof value !== 'boolean') {
    throw new InvalidInputError(`${name} must be true or false, got ${String(value)}`)
  }
  return value
}
