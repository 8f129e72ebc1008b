/**
 * Bandwidth limits over real nodes on 127.0.0.1: the limiter's counters show
 * the chunk traffic went through it and waited, retrievals from a capped
 * seeder all finish intact, a retrieval waiting on its own download limit
 * can be aborted, and bad limits are refused before anything starts. Speed
 * is measured by `npm run bench -- --phases bandwidth`, not asserted here.
 */
import { describe, it, expect, afterEach } from 'vitest'
import { CHUNK_SIZE, Dds, type DdsStats } from '../../src/index.js'
import { MIN_BANDWIDTH_RATE } from '../../src/network/bandwidth.js'
import { Cluster } from '../utils/cluster.js'
import { collect, pseudoRandomBytes, sha256Hex } from '../utils/content.js'
import { waitFor } from '../utils/wait.js'

const MiB = 1024 * 1024
const NO_TRAFFIC: DdsStats['bandwidth'] = { limits: {}, upload: { bytes: 0, waits: 0, waitMs: 0 }, download: { bytes: 0, waits: 0, waitMs: 0 } }

describe('bandwidth limits', () => {
  const cluster = new Cluster()
  afterEach(async () => { await cluster.stop() })

  it('sends every chunk a capped seeder serves through its upload limit, and two retrievers both get theirs intact', async () => {
    const seeder = await cluster.node({ bandwidth: { upload: 2 * MiB, uploadPerPeer: 2 * MiB } })
    const [r1, r2] = await Promise.all([
      cluster.node({ bootstrap: seeder.getMultiaddrs() }),
      cluster.node({ bootstrap: seeder.getMultiaddrs() })
    ])
    const content = pseudoRandomBytes(6 * CHUNK_SIZE, 11)
    const cid = await seeder.publish(content)
    const [got1, got2] = await Promise.all([collect(r1.retrieve(cid)), collect(r2.retrieve(cid))])
    expect(sha256Hex(got1)).toBe(sha256Hex(content))
    expect(sha256Hex(got2)).toBe(sha256Hex(content))

    const { bandwidth } = seeder.stats()
    expect(bandwidth.limits).toEqual({ upload: 2 * MiB, uploadPerPeer: 2 * MiB })
    // each served chunk went through the limiter with its frame; 12 chunks are more than the bursts hold
    expect(seeder.stats().chunksServed).toBeGreaterThanOrEqual(12)
    expect(bandwidth.upload.bytes).toBeGreaterThanOrEqual(2 * content.byteLength)
    expect(bandwidth.upload.waits).toBeGreaterThan(0)
    expect(bandwidth.upload.waitMs).toBeGreaterThan(0)
    expect(bandwidth.download).toEqual(NO_TRAFFIC.download)
    // with an upload limit its fair turns share the upload: no pacing besides
    expect(bandwidth.pacing).toBeUndefined()
    // the retrievers have no limits: nothing went through theirs, and their
    // pacing of competing peers (on without an upload limit) held nothing back
    expect(r1.stats().bandwidth).toEqual({ ...NO_TRAFFIC, pacing: { waits: 0, waitMs: 0 } })
  })

  it('charges what a retriever downloads to its download limit, and what a publisher pushes to its seed peer to both ends', async () => {
    const seeder = await cluster.node({ network: { storePolicy: 'any' }, bandwidth: { download: MIN_BANDWIDTH_RATE * 16 } })
    const publisher = await cluster.node({ seedPeers: seeder.getMultiaddrs(), bandwidth: { upload: MIN_BANDWIDTH_RATE * 16 } })
    const content = pseudoRandomBytes(5 * CHUNK_SIZE, 12)
    const cid = await publisher.publish(content)
    expect(await seeder.has(cid)).toBe(true)
    // the StoreChunk data left the publisher through its upload limit and reached the seeder through its download limit
    expect(publisher.stats().bandwidth.upload.bytes).toBeGreaterThanOrEqual(content.byteLength)
    expect(publisher.stats().bandwidth.upload.waits).toBeGreaterThan(0)
    expect(seeder.stats().bandwidth.download.bytes).toBeGreaterThanOrEqual(content.byteLength)
    expect(seeder.stats().bandwidth.download.waits).toBeGreaterThan(0)

    const retriever = await cluster.node({ bootstrap: publisher.getMultiaddrs(), bandwidth: { download: MIN_BANDWIDTH_RATE * 16 } })
    const got = await collect(retriever.retrieve(cid))
    expect(sha256Hex(got)).toBe(sha256Hex(content))
    const { download } = retriever.stats().bandwidth
    // every chunk answer is charged what it brought (reserved before asking, settled on arrival)
    expect(download.bytes).toBeGreaterThanOrEqual(content.byteLength)
    expect(download.waits).toBeGreaterThan(0)
  })

  it('aborts a retrieval waiting for its own download tokens, and serves again afterwards', async () => {
    const seeder = await cluster.node()
    const retriever = await cluster.node({ bootstrap: seeder.getMultiaddrs(), bandwidth: { download: MIN_BANDWIDTH_RATE } })
    const content = pseudoRandomBytes(8 * CHUNK_SIZE, 13)
    const cid = await seeder.publish(content)
    const controller = new AbortController()
    const reading = collect(retriever.retrieve(cid, { signal: controller.signal })).then(() => undefined, (err: Error) => err)
    // at 64 KiB/s, 2 MiB takes half a minute: wait until a request is held back by our own limit
    await waitFor(() => retriever.stats().bandwidth.download.waits > 0, 'a request to wait for download tokens')
    controller.abort()
    const err = await reading
    expect(err?.name).toBe('AbortError')
    expect(retriever.stats().retrievals.aborted).toBe(1)
    // the peer was not blamed for our own wait
    expect(retriever.network.scores.standing(seeder.peerId).score).toBeGreaterThanOrEqual(0)
    // a small retrieval still goes through (the aborted waits gave their tokens back)
    const small = pseudoRandomBytes(1000, 14)
    const smallCid = await seeder.publish(small)
    expect(sha256Hex(await collect(retriever.retrieve(smallCid)))).toBe(sha256Hex(small))
  })

  it.each([
    ['upload below the least rate', { upload: MIN_BANDWIDTH_RATE - 1 }, /bandwidth.upload/],
    ['a negative download', { download: -1 }, /bandwidth.download/],
    ['a fractional per-peer upload', { uploadPerPeer: 100_000.5 }, /bandwidth.uploadPerPeer/],
    ['a string', { upload: '5MiB' as unknown as number }, /bandwidth.upload/]
  ])('refuses %s with InvalidInputError before starting', async (_label, bandwidth, message) => {
    const err = await Dds.create({ bandwidth }).then(async node => { await node.stop(); return undefined }, (e: Error) => e)
    expect(err?.name).toBe('InvalidInputError')
    expect(err?.message).toMatch(message)
  })
})
