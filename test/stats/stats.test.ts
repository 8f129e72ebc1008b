import { describe, expect, it } from 'vitest'
import type { CID } from 'multiformats/cid'
import { peerIdFromString } from '@libp2p/peer-id'
import { IntegrityError, NotFoundError, TimeoutError, type Discovery, type Provider } from '../../src/index.js'
import { NodeStats } from '../../src/stats/index.js'

const bandwidth = { limits: { upload: 65536 }, upload: { bytes: 5, waits: 1, waitMs: 2 }, download: { bytes: 0, waits: 0, waitMs: 0 } }
const lastReannounce = { part: 3, parts: 24, records: 12, reached: 11, at: 1_700_000_000_000, ms: 40 }
const parts = { network: { served: { blocks: 2, bytes: 20 }, bandwidth }, retrieval: { fetched: { chunks: 3, bytes: 30 } }, announcer: { pending: 7, lastReannounce }, peers: () => [] }

async function drain (source: AsyncIterable<Uint8Array>): Promise<void> {
  for await (const _ of source) {
    void _
  }
}

describe('NodeStats', () => {
  it('counts retrievals by how they end', async () => {
    const counts = new NodeStats()
    const yielding = async function * (): AsyncGenerator<Uint8Array> { yield new Uint8Array(1); yield new Uint8Array(1) }
    const failing = (err: Error) => async function * (): AsyncGenerator<Uint8Array> { throw err }
    await drain(counts.countRetrieval(yielding))
    for (const err of [new NotFoundError('x'), new IntegrityError('x'), new TimeoutError('x'), new Error('x')]) {
      await expect(drain(counts.countRetrieval(failing(err)))).rejects.toBe(err)
    }
    // a consumer that stops reading early counts as an abort
    for await (const _ of counts.countRetrieval(yielding)) {
      void _
      break
    }
    expect(counts.stats(parts).retrievals).toEqual({ ok: 1, notFound: 1, integrity: 1, aborted: 1, timeout: 1, error: 1 })
  })

  it("counts the provider records a discovery's lookups find, and keeps what it does", async () => {
    const peerId = peerIdFromString('12D3KooWGRUVh7ZvJjcBBP4rJLnkC2jX3FWdJ7DYoLwsgqXTMHUd')
    const inner: Discovery = {
      provide: async () => ({ peers: 4 }),
      findProviders: async function * (): AsyncGenerator<Provider> { yield { peerId, multiaddrs: [] }; yield { peerId, multiaddrs: [] } },
      waitForPeers: async () => true
    }
    const counts = new NodeStats()
    const counting = counts.countProviders(inner)
    const found: Provider[] = []
    for await (const provider of counting.findProviders(undefined as unknown as CID, 2)) {
      found.push(provider)
    }
    expect(found).toHaveLength(2)
    expect(await counting.provide(undefined as unknown as CID)).toEqual({ peers: 4 })
    expect(await counting.waitForPeers?.()).toBe(true)
    expect(counts.stats(parts)).toMatchObject({ providersFound: 2, chunksServed: 2, bytesServed: 20, chunksFetched: 3, bytesFetched: 30, peers: 0, bandwidth, announcements: { pending: 7, lastReannounce } })
    expect(counts.stats({ ...parts, announcer: { pending: 0 } }).announcements).toEqual({ pending: 0 })
  })
})
