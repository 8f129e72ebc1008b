import { describe, expect, it } from 'vitest'
import { numberOption } from '../src/options.js'

describe('numberOption', () => {
  it('returns the value, or the fallback when it is undefined', () => {
    expect(numberOption('n', 7, 3)).toBe(7)
    expect(numberOption('n', undefined, 3)).toBe(3)
  })

  it('takes integers from 1 by default, at the bounds and not past them', () => {
    expect(numberOption('n', 1, 3)).toBe(1)
    expect(numberOption('n', Number.MAX_SAFE_INTEGER, 3)).toBe(Number.MAX_SAFE_INTEGER)
    for (const bad of [0, -1, 1.5, Number.NaN, Infinity, Number.MAX_SAFE_INTEGER + 2]) {
      expect(() => numberOption('maxPeers', bad, 3)).toThrow(expect.objectContaining({ name: 'InvalidInputError', message: expect.stringContaining('maxPeers') }))
    }
  })

  it('checks min and max when given', () => {
    expect(numberOption('limit', 500, 100, { max: 500 })).toBe(500)
    expect(() => numberOption('limit', 501, 100, { max: 500 })).toThrow(/limit must be an integer from 1 to 500, got 501/)
    expect(numberOption('quota', 0, 1, { min: 0 })).toBe(0)
    expect(() => numberOption('quota', -1, 1, { min: 0 })).toThrow(/quota must be an integer of at least 0/)
  })

  it('takes any number above 0 with integer: false, up to max', () => {
    expect(numberOption('share', 0.25, 0.5, { integer: false, max: 1 })).toBe(0.25)
    expect(numberOption('share', 1, 0.5, { integer: false, max: 1 })).toBe(1)
    expect(() => numberOption('share', 0, 0.5, { integer: false, max: 1 })).toThrow(/share must be a number above 0 and at most 1, got 0/)
    expect(() => numberOption('share', 1.01, 0.5, { integer: false, max: 1 })).toThrow(/share/)
    expect(() => numberOption('timeoutMs', -5, 10, { integer: false })).toThrow(/timeoutMs must be a number above 0, got -5/)
  })

  it('refuses what is not a number', () => {
    expect(() => numberOption('n', '5' as unknown as number, 3)).toThrow(/n must be an integer/)
  })
})
