/**
 * Content nobody has, CIDs that name the wrong thing, and holders that are
 * gone or silent: every case ends, within the configured deadlines, in a
 * typed DDS error.
 */
import { describe, it, expect, afterEach } from 'vitest'
import { randomBytes } from 'node:crypto'
import { peerIdFromString } from '@libp2p/peer-id'
import {
  DdsError, DDS_PROTOCOL, InvalidInputError, NotFoundError, cidForBlock, cidToString, parseCid,
  type DdsLibp2p
} from '../../src/index.js'
import { ddsStreams, drain, errorOf, expectChunksCorrect } from './helpers.js'
import { Cluster } from '../utils/cluster.js'
import { chunkCid, pseudoRandomBytes } from '../utils/content.js'
import { WAIT_MS, waitFor } from '../utils/wait.js'

/**
 * A real libp2p node that speaks the DDS DHT and accepts DDS streams but
 * never answers a request (a hung or overloaded peer). It announces `cid`.
 */
async function silentProvider (cluster: Cluster, cid: ReturnType<typeof parseCid>, bootstrap: DdsLibp2p | undefined): Promise<DdsLibp2p> {
  const node = await cluster.libp2p()
  await node.handle(DDS_PROTOCOL, (stream) => {
    // read and drop every request; never write a response
    stream.addEventListener('message', () => {})
  })
  if (bootstrap != null) {
    await node.dial(bootstrap.getMultiaddrs(), { signal: AbortSignal.timeout(WAIT_MS) })
  }
  return node
}

async function announce (node: DdsLibp2p, cid: ReturnType<typeof parseCid>): Promise<void> {
  await waitFor(() => (node.services.dht as unknown as { routingTable: { size: number } }).routingTable.size > 0, 'the silent node to have a DHT peer')
  try {
    for await (const _ of node.services.dht.provide(cid, { signal: AbortSignal.timeout(WAIT_MS) })) {}
  } catch {}
}

describe('retrieval of content that cannot be had', () => {
  const cluster = new Cluster()
  afterEach(async () => { await cluster.stop() })

  it('rejects a valid CID that nobody holds with NotFoundError (connected node)', async () => {
    const n = await cluster.node()
    await n.publish(pseudoRandomBytes(1000, 1))
    const r = await cluster.node({
      bootstrap: n.getMultiaddrs(),
      retrieval: { providerTimeoutMs: 2_000 },
      discoveryOptions: { findTimeout: 2_000 }
    })
    const missing = cidToString(cidForBlock(randomBytes(64)))

    const out = await drain(r.retrieve(missing))
    expect(out.error?.name).toBe('NotFoundError')
    expect(out.error).toBeInstanceOf(NotFoundError)
    expect(out.error?.message).toContain(missing)
    expect(out.chunks).toHaveLength(0)

    await expect(r.retrieveBytes(missing)).rejects.toBeInstanceOf(NotFoundError)
  })

  it('rejects a valid CID that nobody holds with NotFoundError (lone node)', async () => {
    const r = await cluster.node({ retrieval: { providerTimeoutMs: 2_000 } })
    const missing = cidForBlock(randomBytes(64))
    const err = await errorOf(async () => r.retrieveBytes(missing))
    expect(err?.name).toBe('NotFoundError')
    expect(err).toBeInstanceOf(DdsError)
  })

  it('rejects a CID that names a data chunk (held by a peer) with InvalidInputError', async () => {
    const data = pseudoRandomBytes(2 * 262144 + 10, 2)
    const p = await cluster.node()
    const r = await cluster.node({ bootstrap: p.getMultiaddrs() })
    await p.publish(data)
    await p.awaitAnnouncements()

    for (const i of [0, 2]) {
      const chunk = chunkCid(data, i)
      expect(await p.has(chunk)).toBe(true)
      const out = await drain(r.retrieve(chunk))
      expect(out.error?.name, `chunk ${i}`).toBe('InvalidInputError')
      expect(out.error).toBeInstanceOf(InvalidInputError)
      expect(out.error?.message).toContain('not a DDS manifest')
      expect(out.chunks).toHaveLength(0)
    }
  })

  it('rejects a CID that names a data chunk held locally with InvalidInputError', async () => {
    const data = pseudoRandomBytes(300_000, 3)
    const p = await cluster.node()
    await p.publish(data)
    const err = await errorOf(async () => p.retrieveBytes(chunkCid(data, 1)))
    expect(err?.name).toBe('InvalidInputError')
  })

  it('throws InvalidInputError for invalid CID strings before any network use', async () => {
    const n = await cluster.node()
    const r = await cluster.node({ bootstrap: n.getMultiaddrs() })
    const bad = [
      'not-a-cid',
      '',
      // CIDv0 (dag-pb)
      'QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG',
      // CIDv1 dag-pb
      'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi',
      // a valid raw CID with one character changed
      cidToString(cidForBlock(randomBytes(8))).slice(0, -1) + '0'
    ]
    for (const text of bad) {
      let err: Error | undefined
      let iterable: AsyncIterable<Uint8Array> | undefined
      try {
        iterable = r.retrieve(text)
      } catch (e) {
        err = e as Error
      }
      if (err == null) {
        // allowed by the brief: thrown on the first next()
        err = await errorOf(async () => iterable![Symbol.asyncIterator]().next())
      }
      expect(err?.name, JSON.stringify(text)).toBe('InvalidInputError')
      expect(err).toBeInstanceOf(InvalidInputError)
      await expect(r.retrieveBytes(text)).rejects.toBeInstanceOf(InvalidInputError)
      expect(await errorOf(async () => r.has(text))).toBeInstanceOf(InvalidInputError)
    }
    // nothing was asked of the peer
    expect(ddsStreams(r, n)).toHaveLength(0)
  })

  it('throws InvalidInputError synchronously from retrieve() for a bad CID', async () => {
    const r = await cluster.node()
    expect(() => r.retrieve('not-a-cid')).toThrow(InvalidInputError)
  })

  it('rejects with NotFoundError when the holder lost one chunk, after yielding the correct chunks before it', async () => {
    const data = pseudoRandomBytes(4 * 262144, 4)
    const p = await cluster.node({ storage: await cluster.dir() })
    const r = await cluster.node({ bootstrap: p.getMultiaddrs(), retrieval: { providerTimeoutMs: 2_000 } })
    const cid = await p.publish(data)
    await p.awaitAnnouncements()
    await p.storage.delete(chunkCid(data, 2))

    const out = await drain(r.retrieve(cid))
    expect(out.error?.name).toBe('NotFoundError')
    expect(out.error?.message).toContain(cidToString(chunkCid(data, 2)))
    expect(out.chunks).toHaveLength(2)
    expectChunksCorrect(out.chunks, data)
    // answering NOT_FOUND is honest: the holder is not penalised for it
    expect(r.network.scores.standing(p.peerId).score).toBe(0)
  })

  it('rejects with NotFoundError when the only holder goes offline mid-retrieval', async () => {
    const data = pseudoRandomBytes(6 * 262144, 5)
    const n = await cluster.node()
    const p = await cluster.node({ bootstrap: n.getMultiaddrs() })
    const r = await cluster.node({
      bootstrap: [...n.getMultiaddrs(), ...p.getMultiaddrs()],
      // one chunk at a time, so most of the content is still to be fetched when P stops
      retrieval: { window: 1, providerTimeoutMs: 2_000, blockTimeoutMs: 2_000 }
    })
    const cid = await p.publish(data)
    await p.awaitAnnouncements()

    // the consumer holds chunk 0 until P has stopped; with window 1 chunk 1 is not requested yet
    const out = await drain(r.retrieve(cid), async (index) => {
      if (index === 0) {
        await p.stop()
      }
    })
    expect(out.error).toBeInstanceOf(DdsError)
    expect(out.error?.name).toBe('NotFoundError')
    expect(out.chunks).toHaveLength(1)
    expectChunksCorrect(out.chunks, data)
  })

  it('rejects with NotFoundError when the only provider never answers, after blockTimeoutMs, and penalises it a little', async () => {
    const r = await cluster.node({ retrieval: { providerTimeoutMs: 3_000, blockTimeoutMs: 1_500 } })
    const cid = cidForBlock(randomBytes(64))
    const silent = await silentProvider(cluster, cid, undefined)
    await r.connect(silent.getMultiaddrs()[0]!.toString())
    await announce(silent, cid)

    const out = await drain(r.retrieve(cid))
    expect(out.error?.name).toBe('NotFoundError')
    expect(out.error?.message).toContain('TimeoutError')
    const standing = r.network.scores.standing(silent.peerId.toString())
    expect(standing.score).toBeLessThan(0)
    expect(standing.banned).toBe(false)
    expect(r.network.isBanned(peerIdFromString(silent.peerId.toString()))).toBe(false)
  })
})
