/**
 * Deterministic test content (the same seed gives the same bytes, so a
 * failing run can be reproduced), ways to feed it in slices, and the chunk
 * arithmetic the tests check results against.
 */
import { createHash } from 'node:crypto'
import { CHUNK_SIZE, cidForBlock } from '../../src/index.js'

export { CHUNK_SIZE }

/** `size` bytes from a seeded xorshift32 generator. */
export function pseudoRandomBytes (size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size)
  let x = (seed * 2654435761) >>> 0 || 1
  for (let i = 0; i < size; i++) {
    x ^= x << 13; x >>>= 0
    x ^= x >>> 17
    x ^= x << 5; x >>>= 0
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
  return concat(parts)
}

export function concat (chunks: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(chunks))
}

/** SHA-256 by node:crypto, independent of the code under test. */
export function sha256Hex (bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

export function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))
}

/** The bytes of chunk `i` of `data`. */
export function chunkOf (data: Uint8Array, i: number): Uint8Array {
  return data.subarray(i * CHUNK_SIZE, Math.min(data.byteLength, (i + 1) * CHUNK_SIZE))
}

/** The CID of chunk `i` of `data`. */
export function chunkCid (data: Uint8Array, i: number): ReturnType<typeof cidForBlock> {
  return cidForBlock(chunkOf(data, i))
}

export function chunkCount (data: Uint8Array): number {
  return Math.ceil(data.byteLength / CHUNK_SIZE)
}

/** The same length as `bytes`, every byte different. */
export function corrupt (bytes: Uint8Array): Uint8Array {
  return bytes.map(b => b ^ 0xa5)
}
