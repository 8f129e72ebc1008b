/**
 * Requests to a busy peer go out in groups: once a peer has `requestBatch`
 * requests in flight it gets more only when it has room for that many, and
 * the channel sends each group as one stream message. Counted on the
 * retriever's real stream (TCP on 127.0.0.1, Noise, Yamux) to its seeder.
 */
import { describe, it, expect, afterEach } from 'vitest'
import { drain, ddsStreams } from './helpers.js'
import type { Dds, RetrievalInit } from '../../src/index.js'
import { FrameDecoder } from '../../src/network/frame-decoder.js'
import { Cluster } from '../utils/cluster.js'
import { CHUNK_SIZE, concat, equalBytes, pseudoRandomBytes } from '../utils/content.js'

const CHUNKS = 64

describe('request groups', () => {
  const cluster = new Cluster()
  afterEach(async () => { await cluster.stop() })

  /**
   * Retrieves CHUNKS chunks from one seeder and counts, on the retriever's
   * stream to it, the messages sent and the request frames they carried,
   * from the moment the first chunk was out.
   */
  async function countsFor (retrieval: RetrievalInit): Promise<{ messages: number, requests: number }> {
    const data = pseudoRandomBytes(CHUNKS * CHUNK_SIZE, 61)
    const seed = await cluster.node({ announce: 'manifest' })
    const cid = await seed.publish(data)
    const r: Dds = await cluster.node({ bootstrap: [seed.getMultiaddrs()[0]!], retrieval })
    let messages = 0
    let requests = 0
    const out = await drain(r.retrieve(cid), (index) => {
      if (index === 0) {
        const streams = ddsStreams(r, seed)
        expect(streams.length).toBeGreaterThan(0)
        for (const stream of streams) {
          const decoder = new FrameDecoder(1024, 1024 * 1024)
          const send = stream.send.bind(stream)
          stream.send = (data) => {
            messages++
            requests += [...decoder.decode(data)].length
            return send(data)
          }
        }
      }
    })
    expect(out.error).toBeUndefined()
    expect(equalBytes(concat(out.chunks), data)).toBe(true)
    return { messages, requests }
  }

  it('sends a busy peer its requests a group at a time', async () => {
    const { messages, requests } = await countsFor({ initialPeerWindow: 8 })
    // groups of 4 (fewer only for the last chunks): well over 2 a message
    expect(requests).toBeGreaterThanOrEqual(16)
    expect(requests / messages).toBeGreaterThanOrEqual(2.5)
  })

  it('refuses a requestBatch that is not a positive integer', async () => {
    await expect(cluster.node({ retrieval: { requestBatch: 0 } })).rejects.toMatchObject({ name: 'InvalidInputError' })
  })
})
