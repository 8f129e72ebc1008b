import { describe, it, expect } from 'vitest'
import { ContentHasher, chunkContent } from '../../src/chunker/index.js'
import { hex, randomLengths, sha256, slices } from './fixtures/content.js'
import { pseudoRandomBytes } from '../utils/content.js'

describe('ContentHasher', () => {
  it('gives the SHA-256 of the empty content', () => {
    const hasher = new ContentHasher()
    expect(hasher.size).toBe(0)
    expect(hex(hasher.digest())).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
  })

  it('equals the SHA-256 of the whole content, whatever the slicing', () => {
    const content = pseudoRandomBytes(1_000_003, 11)
    const hasher = new ContentHasher()
    for (const part of slices(content, randomLengths(4, 70_000))) {
      hasher.update(part)
    }
    expect(hasher.size).toBe(content.byteLength)
    expect(hex(hasher.digest())).toBe(hex(sha256(content)))
  })

  it('equals the SHA-256 of the content when fed the chunks', async () => {
    const content = pseudoRandomBytes(600_000, 12)
    const hasher = new ContentHasher()
    for await (const chunk of chunkContent(content)) {
      hasher.update(chunk.bytes)
    }
    expect(hasher.size).toBe(600_000)
    expect(hex(hasher.digest())).toBe(hex(sha256(content)))
  })

  it('returns the same digest again, and refuses updates after digest()', () => {
    const hasher = new ContentHasher()
    hasher.update(new Uint8Array([1, 2, 3]))
    const first = hasher.digest()
    first.fill(0)
    expect(hex(hasher.digest())).toBe(hex(sha256(new Uint8Array([1, 2, 3]))))
    expect(() => { hasher.update(new Uint8Array(1)) }).toThrowError(expect.objectContaining({ name: 'InvalidInputError' }))
  })

  it('refuses what is not a Uint8Array', () => {
    expect(() => { new ContentHasher().update('abc' as unknown as Uint8Array) }).toThrowError(expect.objectContaining({ name: 'InvalidInputError' }))
  })
})
