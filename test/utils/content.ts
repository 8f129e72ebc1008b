/** Deterministic test content and helpers to feed it in slices. */
import { createHash } from 'node:crypto'

/** `size` bytes from a seeded xorshift generator: the same seed gives the same bytes. */
export function pseudoRandomBytes (size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size)
  let x = seed >>> 0 || 1
  for (let i = 0; i < size; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

/** Yields `bytes` in slices whose sizes come from `sizes` (cycled). */
export async function * sliced (bytes: Uint8Array, sizes: number[]): AsyncGenerator<Uint8Array> {
  let offset = 0
  for (let i = 0; offset < bytes.byteLength; i++) {
    const size = sizes[i % sizes.length]!
    yield bytes.slice(offset, offset + size)
    offset += size
  }
}

/** Collects an async iterable of bytes into one array. */
export async function collect (source: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const part of source) {
    parts.push(part)
  }
  return new Uint8Array(Buffer.concat(parts))
}

export function sha256Hex (bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}
