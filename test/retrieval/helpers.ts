/**
 * Helpers of the retrieval failure-mode tests: real DDS nodes (TCP on
 * 127.0.0.1, memory or LevelDB stores in temp dirs), stopped after each test.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect } from 'vitest'
import { Dds, cidForBlock, CHUNK_SIZE, DDS_PROTOCOL, type DdsInit } from '../../src/index.js'
import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface'

export { CHUNK_SIZE }

/**
 * Short deadlines so that every failure path ends in seconds. Each node
 * created through `Cluster.node` gets these unless the test overrides them.
 */
export const FAST: DdsInit = {
  bootstrapTimeoutMs: 5_000,
  retrieval: { providerTimeoutMs: 3_000, blockTimeoutMs: 3_000 },
  discoveryOptions: { provideTimeout: 3_000, findTimeout: 3_000 },
  network: { requestTimeoutMs: 5_000 },
  // these tests are about retrieval: no background replica fetches
  replication: { factor: 1 }
}

/** The nodes (and LevelDB dirs) of one test; `stop()` in afterEach. */
export class Cluster {
  private readonly nodes: Dds[] = []
  private readonly dirs: string[] = []

  /** Creates a node with FAST deadlines merged under `init` (nested option objects are merged too). */
  async node (init: DdsInit = {}): Promise<Dds> {
    const merged: DdsInit = {
      ...FAST,
      ...init,
      retrieval: { ...FAST.retrieval, ...init.retrieval },
      discoveryOptions: { ...FAST.discoveryOptions, ...init.discoveryOptions },
      network: { ...FAST.network, ...init.network },
      replication: { ...FAST.replication, ...init.replication }
    }
    const node = await Dds.create(merged)
    this.nodes.push(node)
    return node
  }

  /** A fresh temp directory for a LevelDB store, removed by `stop()`. */
  async levelDir (): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'dds-retrieval-test-'))
    this.dirs.push(dir)
    return dir
  }

  /** Stops one node early (e.g. a publisher going away); `stop()` will not fail on it. */
  async stopNode (node: Dds): Promise<void> {
    await node.stop()
  }

  async stop (): Promise<void> {
    await Promise.all(this.nodes.splice(0).map(async n => { await n.stop().catch(() => {}) }))
    await Promise.all(this.dirs.splice(0).map(async d => { await rm(d, { recursive: true, force: true }) }))
  }
}

/** Deterministic pseudo-random content (so a failing run can be reproduced). */
export function content (size: number, seed = 1): Uint8Array {
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

/** Replaces the block under `cid` in a node's store with `bytes`, unverified (disk corruption, or a malicious node). */
export async function overwriteBlock (node: Dds, cid: Parameters<Dds['storage']['put']>[0], bytes: Uint8Array): Promise<void> {
  await node.storage.delete(cid)
  await node.storage.put(cid, bytes)
  expect(await node.storage.get(cid)).toEqual(bytes)
}

export function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))
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

export function concat (chunks: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(chunks))
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

/** Polls `check` until it returns true; throws after `ms`. */
export async function waitFor (check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (await check()) {
      return
    }
    await sleep(25)
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`)
}

export async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
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
