/**
 * What an interrupted `dds get` left on disk, checked before it is trusted:
 * the kept bytes are read back chunk by chunk and each chunk is compared
 * with the CID the manifest lists for it. The whole-content SHA-256 runs
 * over the verified chunks, so that it can be checked once the rest arrives.
 *
 * @module
 */

import { createHash, type Hash } from 'node:crypto'
import type { FileHandle } from 'node:fs/promises'
import { CHUNK_SIZE, blockMatchesCid, parseCid } from '../cid.js'
import type { ChunkListJson } from '../gateway/chunks.js'
import type { ApiClient } from './client.js'


/** The size, SHA-256 and chunk count of content, as the daemon read them from its manifest. */
export type ContentFacts = Pick<ChunkListJson, 'cid' | 'size' | 'sha256' | 'chunks'>

/** The verified start of a partial file. */
export interface Kept {
  /** Bytes at the start of the file that match their chunk CIDs: whole chunks only. */
  bytes: number
  /** SHA-256 over those bytes, to be continued with the rest of the content. */
  hash: Hash
}

/** Asks the daemon for chunk CIDs `from` onwards (as many as it lists in one answer). */
export async function chunkList (client: ApiClient, cid: string, from: number, count?: number): Promise<ChunkListJson> {
  const query = new URLSearchParams({ from: String(from), ...(count != null ? { count: String(count) } : {}) })
  return client.json<ChunkListJson>('GET', `/api/v1/chunks/${encodeURIComponent(cid)}?${query.toString()}`, cid)
}

/**
 * Chunks whose every byte lies within the first `length` bytes of the
 * content: a chunk cut short by the interruption is fetched again.
 */
export function wholeChunks (facts: ContentFacts, length: number): number {
  return length >= facts.size ? facts.chunks : Math.floor(length / CHUNK_SIZE)
}

/**
 * Reads the first `length` bytes of `file` chunk by chunk and checks each
 * against its CID, stopping at the first that does not match. Memory holds
 * one chunk at a time.
 */
export async function verifyKept (client: ApiClient, facts: ContentFacts, file: FileHandle, length: number, signal?: AbortSignal): Promise<Kept> {
  const hash = createHash('sha256')
  const candidates = wholeChunks(facts, length)
  const buffer = Buffer.allocUnsafe(CHUNK_SIZE)
  let index = 0
  while (index < candidates) {
    const page = await chunkList(client, facts.cid, index, candidates - index)
    if (page.cids.length === 0) {
      break
    }
    for (const text of page.cids) {
      signal?.throwIfAborted()
      const offset = index * CHUNK_SIZE
      const size = Math.min(CHUNK_SIZE, facts.size - offset)
      const { bytesRead } = await file.read(buffer, 0, size, offset)
      const chunk = buffer.subarray(0, bytesRead)
      if (bytesRead !== size || !blockMatchesCid(parseCid(text), chunk)) {
        return { bytes: offset, hash }
      }
      hash.update(chunk)
      index++
    }
  }
  return { bytes: Math.min(index * CHUNK_SIZE, facts.size), hash }
}
