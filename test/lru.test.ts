import { describe, it, expect } from 'vitest'
import { LruMap } from '../src/lru.js'

describe('LruMap', () => {
  it('keeps at most maxEntries, dropping the least recently used first', () => {
    const map = new LruMap<string, number>(2)
    map.set('a', 1)
    map.set('b', 2)
    map.set('c', 3)
    expect(map.get('a')).toBeUndefined()
    expect(map.get('b')).toBe(2)
    expect(map.get('c')).toBe(3)
  })

  it('counts a read as a use', () => {
    const map = new LruMap<string, number>(2)
    map.set('a', 1)
    map.set('b', 2)
    expect(map.get('a')).toBe(1)
    map.set('c', 3)
    expect(map.get('b')).toBeUndefined()
    expect(map.get('a')).toBe(1)
  })

  it('replaces the value of a key that is set again, and makes it the most recent', () => {
    const map = new LruMap<string, number>(2)
    map.set('a', 1)
    map.set('b', 2)
    map.set('a', 10)
    map.set('c', 3)
    expect(map.get('a')).toBe(10)
    expect(map.get('b')).toBeUndefined()
  })

  it('keeps the total weight within maxWeight, dropping the least recent entries', () => {
    const map = new LruMap<string, Uint8Array>(10, { maxWeight: 100, weigh: v => v.byteLength })
    map.set('a', new Uint8Array(40))
    map.set('b', new Uint8Array(40))
    map.set('c', new Uint8Array(40))
    expect(map.get('a')).toBeUndefined()
    expect(map.get('b')).toBeDefined()
    expect(map.get('c')).toBeDefined()
  })

  it('gives back the weight of a replaced entry', () => {
    const map = new LruMap<string, Uint8Array>(10, { maxWeight: 100, weigh: v => v.byteLength })
    map.set('a', new Uint8Array(60))
    map.set('a', new Uint8Array(30))
    map.set('b', new Uint8Array(60))
    expect(map.get('a')?.byteLength).toBe(30)
    expect(map.get('b')?.byteLength).toBe(60)
  })

  it('does not keep an entry heavier than maxWeight on its own', () => {
    const map = new LruMap<string, Uint8Array>(10, { maxWeight: 100, weigh: v => v.byteLength })
    map.set('a', new Uint8Array(10))
    map.set('big', new Uint8Array(101))
    expect(map.get('big')).toBeUndefined()
    expect(map.get('a')).toBeUndefined()
    map.set('b', new Uint8Array(100))
    expect(map.get('b')?.byteLength).toBe(100)
  })
})
