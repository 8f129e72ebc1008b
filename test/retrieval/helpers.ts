/**
 * Helpers of the retrieval tests: what a retrieval yielded, cut into chunks
 * and checked, progress events recorded, blocks corrupted in a store, and a
 * node's open DDS streams. Nodes come from test/utils/cluster.ts.
 */
import { expect } from 'vitest'
import { Dds, CHUNK_SIZE, DDS_PROTOCOL } from '../../src/index.js'
import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface'
import { chunkOf, concat, equalBytes } from '../utils/content.js'

/** Replaces the block under `cid` in a node's store with `bytes`, unverified (disk corruption, or a malicious node). */
export async function overwriteBlock (node: Dds, cid: Parameters<Dds['storage']['put']>[0], bytes: Uint8Array): Promise<void> {
  await node.storage.delete(cid)
  await node.storage.put(cid, bytes)
  expect(await node.storage.get(cid)).toEqual(bytes)
}

/** What one iteration of a retrieval produced: its bytes (copied), cut into chunks, and how it ended. */
export interface Outcome {
  chunks: Uint8Array[]
  error?: Error
}

/**
 * Iterates `iterable` to its end or its error, keeping a copy of every byte.
 * `retrieve` yields arrays of any size (a fetched chunk comes in the pieces
 * it arrived in), so the bytes are cut here into 256 KiB chunks counted from
 * the first byte: `chunks[i]` is the i-th chunk, and `onChunk` runs as soon
 * as a chunk is complete (the last, short one included). Bytes yielded
 * before an error that do not make a whole chunk come last in `chunks`.
 */
export async function drain (iterable: AsyncIterable<Uint8Array>, onChunk?: (index: number, chunk: Uint8Array) => void | Promise<void>): Promise<Outcome> {
  const chunks: Uint8Array[] = []
  let partial: Uint8Array[] = []
  let partialBytes = 0
  const cut = (): Uint8Array => {
    const chunk = concat(partial)
    partial = []
    partialBytes = 0
    chunks.push(chunk)
    return chunk
  }
  try {
    for await (const piece of iterable) {
      for (let at = 0; at < piece.byteLength;) {
        const take = Math.min(CHUNK_SIZE - partialBytes, piece.byteLength - at)
        partial.push(new Uint8Array(piece.subarray(at, at + take)))
        partialBytes += take
        at += take
        if (partialBytes === CHUNK_SIZE) {
          const chunk = cut()
          await onChunk?.(chunks.length - 1, chunk)
        }
      }
    }
    if (partialBytes > 0) {
      const chunk = cut()
      await onChunk?.(chunks.length - 1, chunk)
    }
    return { chunks }
  } catch (err) {
    if (partialBytes > 0) {
      cut()
    }
    return { chunks, error: err as Error }
  }
}

/**
 * Asserts that every yielded chunk is exactly the corresponding chunk of
 * `expected` (chunk boundaries of retrieval are the 256 KiB chunk boundaries).
 */
export function expectChunksCorrect (chunks: Uint8Array[], expected: Uint8Array): void {
  chunks.forEach((chunk, i) => {
    expect(equalBytes(chunk, chunkOf(expected, i)), `yielded chunk ${i} differs from the original`).toBe(true)
  })
}

/** The error a call produced, whether it threw synchronously or rejected. */
export async function errorOf (fn: () => unknown): Promise<Error | undefined> {
  try {
    await fn()
  } catch (err) {
    return err as Error
  }
  return undefined
}

/** Streams of the DDS protocol on `node`'s connections to `peer` that are not closed. */
export function ddsStreams (node: Dds | Libp2p, peer: Dds | Libp2p | PeerId): Stream[] {
  const lp = node instanceof Dds ? node.libp2p : node
  const id = peer instanceof Dds ? peer.libp2p.peerId : 'peerId' in peer ? peer.peerId : peer
  return lp.getConnections(id)
    .flatMap((c: Connection) => c.streams)
    .filter(s => s.protocol === DDS_PROTOCOL && s.status !== 'closed' && s.status !== 'aborted' && s.status !== 'reset')
}

/** A progress event as the tests record it. */
export interface Recorded {
  type: string
  detail: any
}

/** An onProgress callback that records every event. */
export function recorder (): { events: Recorded[], onProgress: (evt: { type: string, detail?: unknown }) => void, of: (type: string) => any[] } {
  const events: Recorded[] = []
  return {
    events,
    onProgress: (evt) => { events.push({ type: evt.type, detail: evt.detail }) },
    of: (type) => events.filter(e => e.type === type).map(e => e.detail)
  }
}
