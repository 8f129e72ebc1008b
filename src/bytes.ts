/**
 * Collects an async iterable of byte arrays into one new array of its own
 * (never a view of a shared pool, as `Buffer.concat` can give for small
 * totals).
 */
export async function concatBytes (source: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  let length = 0
  for await (const part of source) {
    parts.push(part)
    length += part.byteLength
  }
  const out = new Uint8Array(length)
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.byteLength
  }
  return out
}
