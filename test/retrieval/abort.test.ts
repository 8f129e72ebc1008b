/**
 * Aborting (or abandoning) a retrieval or a publish ends it with AbortError
 * and releases what it held: no request stays in flight (so the idle DDS
 * stream to the seeder gets closed), and the same content can be retrieved
 * again at once.
 */
import { FrameDecoder } from '../../src/network/frame-decoder.js'
import { pb } from '../../src/pb/index.js'
import { CID } from 'multiformats/cid'
import { describe, it, expect, afterEach } from 'vitest'
import { randomBytes } from 'node:crypto'
import {
  AbortError, DDS_PROTOCOL, cidForBlock, type Dds
} from '../../src/index.js'
import { ddsStreams, drain, errorOf, expectChunksCorrect, recorder } from './helpers.js'
import { CHUNK_SIZE, chunkCid, concat, equalBytes, pseudoRandomBytes } from '../utils/content.js'
import { Cluster } from '../utils/cluster.js'
import { WAIT_MS, waitFor } from '../utils/wait.js'

/** Idle DDS streams close after this long, so a test can see that nothing is left in flight. */
const IDLE_MS = 1_000

/** 6 MiB: 24 chunks, more than the default window of 16. */
const SIZE = 6 * 1024 * 1024

async function expectReleased (r: Dds, p: Dds): Promise<void> {
  // A requester closes its idle stream only once no request is in flight on
  // it; a leaked request slot keeps it open for good.
  await waitFor(() => ddsStreams(r, p).length === 0, "the retriever's DDS streams to the seeder to close")
  // and the seeder sees its side closed too
  await waitFor(() => ddsStreams(p, r).length === 0, "the seeder's DDS streams from the retriever to close")
}

describe('aborting a retrieval', () => {
  const cluster = new Cluster()
  afterEach(async () => { await cluster.stop() })

  async function setup (): Promise<{ p: Dds, r: Dds, data: Uint8Array, cid: string }> {
    const p = await cluster.node({ storage: await cluster.dir(), network: { idleTimeoutMs: IDLE_MS } })
    const r = await cluster.node({ bootstrap: p.getMultiaddrs(), network: { idleTimeoutMs: IDLE_MS } })
    const data = pseudoRandomBytes(SIZE, 21)
    const cid = await p.publish(data)
    await p.awaitAnnouncements()
    return { p, r, data, cid }
  }

  it('rejects with AbortError when aborted half-way, releases the streams, and can retrieve again', async () => {
    const { p, r, data, cid } = await setup()
    const controller = new AbortController()
    let streamsAtAbort = -1
    let yieldedAtAbort = -1
    const out = await drain(r.retrieve(cid, { signal: controller.signal }), (index) => {
      if (index === 3) {
        streamsAtAbort = ddsStreams(r, p).length
        yieldedAtAbort = index + 1
        controller.abort()
      }
    })

    expect(out.error?.name).toBe('AbortError')
    expect(out.error).toBeInstanceOf(AbortError)
    // the abort came while the retrieval was using the network, half-way through
    expect(streamsAtAbort).toBeGreaterThan(0)
    expect(yieldedAtAbort).toBe(4)
    expect(out.chunks.length).toBeLessThan(SIZE / CHUNK_SIZE)
    // whatever came out is right
    expectChunksCorrect(out.chunks, data)

    await expectReleased(r, p)

    const again = await drain(r.retrieve(cid))
    expect(again.error).toBeUndefined()
    expect(equalBytes(concat(again.chunks), data)).toBe(true)
  })

  it('yields no chunk after the abort, even when the chunks ahead have already arrived', async () => {
    const { p, r, data, cid } = await setup()
    const controller = new AbortController()
    const abortAfter = 4
    const out = await drain(r.retrieve(cid, { signal: controller.signal }), async (index) => {
      if (index === abortAfter - 1) {
        // a slow consumer: meanwhile chunks ahead are fetched (the seeder
        // served more blocks than the manifest and the chunks yielded)
        await waitFor(() => p.stats().chunksServed > abortAfter + 1, 'the seeder to serve chunks ahead of the output')
        controller.abort()
      }
    })
    expect(out.error?.name).toBe('AbortError')
    expectChunksCorrect(out.chunks, data)
    // the next step after abort() must reject; buffered chunks are not handed out
    expect(out.chunks).toHaveLength(abortAfter)
  })

  it('breaking out of the loop early releases the streams, and the content can be retrieved again', async () => {
    const { p, r, data, cid } = await setup()
    const got: Uint8Array[] = []
    for await (const piece of r.retrieve(cid)) {
      got.push(new Uint8Array(piece))
      if (got.length === 3) {
        break
      }
    }
    expect(got).toHaveLength(3)
    const received = concat(got)
    expect(equalBytes(received, data.subarray(0, received.byteLength))).toBe(true)

    await expectReleased(r, p)

    expect(equalBytes(await r.retrieveBytes(cid), data)).toBe(true)
  })

  it('breaking out early cancels the requests still hanging on a peer that never answers', async () => {
    // P holds the manifest and chunk 0; chunks 1..3 are announced only by a
    // peer that never answers, so their requests hang (blockTimeoutMs is a
    // minute) until the retrieval lets go of them.
    const data = pseudoRandomBytes(4 * CHUNK_SIZE, 22)
    const p = await cluster.node({ network: { idleTimeoutMs: IDLE_MS } })
    const r = await cluster.node({
      bootstrap: p.getMultiaddrs(),
      network: { idleTimeoutMs: IDLE_MS },
      retrieval: { blockTimeoutMs: 60_000, providerTimeoutMs: 60_000 },
      discoveryOptions: { findTimeout: 60_000 }
    })
    const cid = await p.publish(data, { signal: AbortSignal.timeout(20_000) })
    await p.awaitAnnouncements()
    const silent = await cluster.libp2p()
    // count the chunk requests that reach it (frames may arrive coalesced)
    let requests = 0
    const wanted = new Set([1, 2, 3].map(i => chunkCid(data, i).toString()))
    await silent.handle(DDS_PROTOCOL, (stream) => {
      const decoder = new FrameDecoder(1024 * 1024, 8 * 1024 * 1024)
      stream.addEventListener('message', (evt) => {
        for (const frame of decoder.decode(evt.data)) {
          const cidBytes = pb.Request.decode(frame.subarray()).retrieveChunk?.cid
          if (cidBytes != null && wanted.has(CID.decode(cidBytes).toString())) {
            requests++
          }
        }
      })
    })
    await r.connect(silent.getMultiaddrs()[0]!.toString())
    await waitFor(() => (silent.services.dht as unknown as { routingTable: { size: number } }).routingTable.size > 0, 'a DHT peer')
    for (const i of [1, 2, 3]) {
      await p.storage.delete(chunkCid(data, i))
      try {
        for await (const _ of silent.services.dht.provide(chunkCid(data, i), { signal: AbortSignal.timeout(WAIT_MS) })) {}
      } catch {}
    }

    const got: Uint8Array[] = []
    for await (const piece of r.retrieve(cid)) {
      got.push(new Uint8Array(piece))
      // hold the first piece of chunk 0 until the requests for chunks 1..3 hang on the silent peer
      await waitFor(() => requests >= 3, 'requests for chunks 1..3 to reach the silent peer')
      expect(ddsStreams(r, silent.peerId).some(s => s.writeStatus === 'writable')).toBe(true)
      break
    }
    expect(got).toHaveLength(1)
    expect(equalBytes(got[0]!, data.subarray(0, got[0]!.byteLength))).toBe(true)
    // the hanging requests were cancelled: their slots are free, so the
    // requester closes its (now idle) side of the stream
    await waitFor(() => ddsStreams(r, silent.peerId).every(s => s.writeStatus === 'closed'), 'the requests to the silent peer to be released')
    // cancelling is not the peer's fault
    expect(r.network.scores.standing(silent.peerId.toString()).score).toBe(0)
  })

  it('an iterator closed with return() after its first chunk releases everything', async () => {
    const { p, r, data, cid } = await setup()
    const it = r.retrieve(cid)[Symbol.asyncIterator]()
    const first = await it.next()
    expect(first.done).toBe(false)
    const piece = first.value as Uint8Array
    expect(piece.byteLength).toBeGreaterThan(0)
    expect(equalBytes(piece, data.subarray(0, piece.byteLength))).toBe(true)
    const end = await it.return?.()
    expect(end?.done).toBe(true)
    // a closed iterator stays closed
    expect((await it.next()).done).toBe(true)
    await expectReleased(r, p)
  })

  it('rejects with AbortError on an already-aborted signal, without asking any peer', async () => {
    const { p, r, cid } = await setup()
    const signal = AbortSignal.abort()
    const out = await drain(r.retrieve(cid, { signal }))
    expect(out.error?.name).toBe('AbortError')
    expect(out.error).toBeInstanceOf(AbortError)
    expect(out.chunks).toHaveLength(0)
    await expect(r.retrieveBytes(cid, { signal })).rejects.toBeInstanceOf(AbortError)
    expect(ddsStreams(r, p)).toHaveLength(0)
  })

  it('aborts at once while a request hangs on a peer that never answers', async () => {
    const r = await cluster.node({
      network: { idleTimeoutMs: IDLE_MS },
      // without the abort this retrieval would take a minute or more
      retrieval: { blockTimeoutMs: 60_000, providerTimeoutMs: 60_000 },
      discoveryOptions: { findTimeout: 60_000 }
    })
    const silent = await cluster.libp2p()
    let requests = 0
    await silent.handle(DDS_PROTOCOL, (stream) => {
      stream.addEventListener('message', () => { requests++ })
    })
    await r.connect(silent.getMultiaddrs()[0]!.toString())
    const cid = cidForBlock(randomBytes(64))
    await waitFor(() => (silent.services.dht as unknown as { routingTable: { size: number } }).routingTable.size > 0, 'a DHT peer')
    try {
      for await (const _ of silent.services.dht.provide(cid, { signal: AbortSignal.timeout(WAIT_MS) })) {}
    } catch {}

    const controller = new AbortController()
    const pending = drain(r.retrieve(cid, { signal: controller.signal }))
    await waitFor(() => requests > 0, 'the request to reach the silent peer')
    expect(ddsStreams(r, silent.peerId).length).toBeGreaterThan(0)
    controller.abort()
    const out = await pending
    expect(out.error?.name).toBe('AbortError')
    expect(out.error).toBeInstanceOf(AbortError)
    // the aborted request no longer holds the stream: once idle, the
    // requester closes its side (the peer, which never answers, may keep its own)
    await waitFor(() => ddsStreams(r, silent.peerId).every(s => s.writeStatus === 'closed'), 'the requester to let go of the stream to the silent peer')
    // an abort is not the peer's fault
    expect(r.network.scores.standing(silent.peerId.toString()).score).toBe(0)
  })

  it('closes an idle stream to a peer that never answers within a bound set by idleTimeoutMs', async () => {
    // network.idleTimeoutMs is documented as "a stream with no traffic for
    // this long is closed, on both sides"; a peer that never closes its side
    // must not keep this node's stream (and its buffers) open beyond that.
    const r = await cluster.node({ network: { idleTimeoutMs: IDLE_MS }, retrieval: { blockTimeoutMs: 500, providerTimeoutMs: 2_000 } })
    const silent = await cluster.libp2p()
    await silent.handle(DDS_PROTOCOL, (stream) => { stream.addEventListener('message', () => {}) })
    await r.connect(silent.getMultiaddrs()[0]!.toString())
    const cid = cidForBlock(randomBytes(64))
    const err = await errorOf(async () => r.network.retrieveBlock(silent.peerId, cid, { timeoutMs: 500 }))
    expect(err?.name).toBe('TimeoutError')
    expect(ddsStreams(r, silent.peerId).length).toBeGreaterThan(0)
    await waitFor(() => ddsStreams(r, silent.peerId).length === 0, 'the idle stream to the silent peer to close')
  })
})

describe('aborting a publish', () => {
  const cluster = new Cluster()
  afterEach(async () => { await cluster.stop() })

  it('rejects with AbortError mid-way through a slow input, and releases the input', async () => {
    const p = await cluster.node()
    let released = false
    let produced = 0
    async function * slow (): AsyncGenerator<Uint8Array> {
      try {
        // endless: only an abort ends this publish
        while (true) {
          // one chunk-half per turn of the event loop, so the publish works between them
          await new Promise(resolve => setImmediate(resolve))
          produced++
          yield randomBytes(CHUNK_SIZE / 2)
        }
      } finally {
        released = true
      }
    }
    const controller = new AbortController()
    const progress = recorder()
    const err = await errorOf(async () => p.publish(slow(), {
      signal: controller.signal,
      onProgress: (evt) => {
        progress.onProgress(evt)
        if (evt.type === 'dds:publish:chunk' && (evt.detail as { index: number }).index === 2) {
          controller.abort()
        }
      }
    }))
    expect(err?.name).toBe('AbortError')
    expect(err).toBeInstanceOf(AbortError)
    expect(progress.of('dds:publish:chunk')).toHaveLength(3)
    expect(progress.of('dds:publish:stored')).toHaveLength(0)
    expect(progress.of('dds:publish:announced')).toHaveLength(0)
    await waitFor(() => released, 'the input to be released')
    const producedAtEnd = produced
    // nothing pulls the input any more, whatever the node does next
    await p.publish(pseudoRandomBytes(2 * CHUNK_SIZE, 4))
    expect(produced).toBe(producedAtEnd)
  })

  it('rejects with AbortError while waiting on an input that never delivers', async () => {
    const p = await cluster.node()
    let released = false
    const stream = new ReadableStream<Uint8Array>({
      start (ctl) { ctl.enqueue(new Uint8Array(1000)) },
      // never enqueues more, never closes; the abort comes once publish waits for more
      pull () { setImmediate(() => { controller.abort() }) },
      cancel () { released = true }
    })
    const controller = new AbortController()
    const err = await errorOf(async () => p.publish(stream, { signal: controller.signal }))
    expect(err?.name).toBe('AbortError')
    expect(err).toBeInstanceOf(AbortError)
    await waitFor(() => released, 'the stream to be cancelled')
  })

  it('rejects with AbortError on an already-aborted signal and stores nothing', async () => {
    const p = await cluster.node()
    const err = await errorOf(async () => p.publish(pseudoRandomBytes(1000, 3), { signal: AbortSignal.abort() }))
    expect(err).toBeInstanceOf(AbortError)
    expect((await p.storage.stats()).blocks).toBe(0)
  })
})
