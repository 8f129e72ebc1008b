// Role: the raw-limit of the store. Writes the content's 256 KiB chunks into
// a fresh LevelDB (the `level` package DDS uses, binary keys and values, no
// sync) in batches of `batch` puts, one batch in flight, keyed by the chunk's
// binary CID as DDS keys them. The chunks and keys are prepared before the
// clock starts, so only LevelDB is timed.
//
// Options: { dir, batch }
// Ops: run { source } -> { bytes, ms, chunks }
import { Level } from 'level'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { openContent } from '../lib/content.mjs'
import { roleOptions, serve } from '../lib/role.mjs'

const CHUNK_SIZE = 262144
const RAW_CODEC = 0x55
const options = roleOptions()

async function readChunks (source) {
  const chunks = []
  let pending = []
  let pendingBytes = 0
  for await (const piece of openContent(source)) {
    pending.push(piece)
    pendingBytes += piece.byteLength
    if (pendingBytes >= CHUNK_SIZE) {
      const joined = Buffer.concat(pending)
      let at = 0
      for (; joined.byteLength - at >= CHUNK_SIZE; at += CHUNK_SIZE) {
        chunks.push(joined.subarray(at, at + CHUNK_SIZE))
      }
      pending = [joined.subarray(at)]
      pendingBytes = joined.byteLength - at
    }
  }
  if (pendingBytes > 0) {
    chunks.push(Buffer.concat(pending))
  }
  return chunks
}

async function run ({ source }) {
  const chunks = await readChunks(source)
  const ops = []
  for (const bytes of chunks) {
    const cid = CID.createV1(RAW_CODEC, await sha256.digest(bytes))
    ops.push({ type: 'put', key: cid.bytes, value: bytes })
  }
  const db = new Level(options.dir, { keyEncoding: 'view', valueEncoding: 'view' })
  await db.open()
  let bytes = 0
  const started = performance.now()
  for (let i = 0; i < ops.length; i += options.batch) {
    const batch = ops.slice(i, i + options.batch)
    await db.batch(batch)
    for (const op of batch) {
      bytes += op.value.byteLength
    }
  }
  const ms = performance.now() - started
  await db.close()
  return { bytes, ms, chunks: chunks.length }
}

serve({ run })
