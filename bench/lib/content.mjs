// Benchmark content: deterministic pseudo-random bytes (an AES-256-CTR
// keystream named by a seed), so every process can produce the very same
// bytes from a few numbers, as a file or as a stream that never touches disk.
// A sampled fingerprint (one byte in every SAMPLE_STRIDE) lets a retriever
// show, almost for free, that it got those bytes in that order.
import { createCipheriv, createHash } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { once } from 'node:events'

export const MiB = 1024 * 1024
export const SAMPLE_STRIDE = 4096
const PIECE = MiB

function keystream (seed) {
  const key = createHash('sha256').update(`dds-bench:${seed}`).digest()
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16))
}

/** Yields `size` bytes named by `seed`, in pieces of at most 1 MiB. */
export async function * generate ({ seed, size }) {
  const cipher = keystream(seed)
  const zeros = Buffer.alloc(PIECE)
  for (let left = size; left > 0; left -= PIECE) {
    yield cipher.update(left >= PIECE ? zeros : zeros.subarray(0, left))
  }
}

/** Writes the generated content to `path`. */
export async function writeContent (path, spec) {
  const out = createWriteStream(path)
  for await (const piece of generate(spec)) {
    if (!out.write(piece)) {
      await once(out, 'drain')
    }
  }
  out.end()
  await once(out, 'finish')
}

/**
 * The bytes a role publishes or imports: `{ file }` reads a file (a Node
 * readable stream, as a user would pass it), `{ seed, size }` generates them.
 */
export function openContent (source) {
  return source.file != null ? createReadStream(source.file) : generate(source)
}

/** Collects every SAMPLE_STRIDE-th byte of a stream of buffers. */
export class Fingerprint {
  constructor (size) {
    this.samples = new Uint8Array(Math.ceil(size / SAMPLE_STRIDE))
    this.offset = 0
  }

  update (bytes) {
    let i = (SAMPLE_STRIDE - (this.offset % SAMPLE_STRIDE)) % SAMPLE_STRIDE
    for (; i < bytes.byteLength; i += SAMPLE_STRIDE) {
      const at = (this.offset + i) / SAMPLE_STRIDE
      if (at < this.samples.length) {
        this.samples[at] = bytes[i]
      }
    }
    this.offset += bytes.byteLength
  }

  /** Hex digest of the samples and the total length. */
  digest () {
    return createHash('sha256').update(this.samples).update(String(this.offset)).digest('hex')
  }
}

/** The fingerprint of generated content. */
export async function fingerprintOf (spec) {
  const fp = new Fingerprint(spec.size)
  for await (const piece of generate(spec)) {
    fp.update(piece)
  }
  return fp.digest()
}
