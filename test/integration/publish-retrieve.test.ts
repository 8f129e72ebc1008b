/**
 * End to end over real libp2p nodes on 127.0.0.1: A and C each join through
 * B only, so C finds A's content on the DHT and fetches it from A without
 * ever having been connected to it.
 */
import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest'
import { join } from 'node:path'
import { CHUNK_SIZE, type Dds } from '../../src/index.js'
import { Cluster, OWN_DEADLINES } from '../utils/cluster.js'
import { collect, pseudoRandomBytes, sha256Hex, sliced } from '../utils/content.js'

describe('publish on A, retrieve on C through the DHT', () => {
  // finding a provider through B is what these tests are about: the nodes' own DHT deadlines
  const cluster = new Cluster(OWN_DEADLINES)
  let a: Dds, b: Dds, c: Dds

  beforeAll(async () => {
    const dir = await cluster.dir('dds-e2e-')
    b = await cluster.node({ storage: join(dir, 'b') })
    ;[a, c] = await Promise.all([
      cluster.node({ storage: join(dir, 'a'), bootstrap: b.getMultiaddrs() }),
      cluster.node({ storage: join(dir, 'c'), bootstrap: b.getMultiaddrs() })
    ])
  })

  afterAll(async () => { await cluster.stop() })

  it.each([
    ['0 bytes', 0],
    ['1 byte', 1],
    ['exactly 256 KiB', CHUNK_SIZE],
    ['256 KiB + 1', CHUNK_SIZE + 1],
    ['20 MiB', 20 * 1024 * 1024]
  ])('%s', async (_label, size) => {
    const content = pseudoRandomBytes(size, size + 7)
    const cid = await a.publish(content)
    expect(cid.startsWith('z')).toBe(true)
    expect(await b.has(cid)).toBe(false)
    expect(await c.has(cid)).toBe(false)

    const got = await collect(c.retrieve(cid))
    expect(got.byteLength).toBe(size)
    expect(sha256Hex(got)).toBe(sha256Hex(content))
    // retrieval streams; it does not store what it fetched
    expect(await c.has(cid)).toBe(false)
  })

  it('C finds A on the DHT when it is not connected to A', async () => {
    const d = await cluster.node({ bootstrap: b.getMultiaddrs() })
    try {
      const content = pseudoRandomBytes(3 * CHUNK_SIZE, 99)
      const cid = await a.publish(content)
      // A may have dialled D to store its provider record there, and D's DHT
      // may have met A in its own lookups: drop any connection between them,
      // so that only the DHT can lead D to A (connected peers are asked
      // first, and B does not hold the content).
      await d.libp2p.hangUp(a.libp2p.peerId)
      expect(d.libp2p.getConnections(a.libp2p.peerId)).toHaveLength(0)
      let manifestFrom = ''
      let providersFound = 0
      const got = await collect(d.retrieve(cid, {
        onProgress: (evt) => {
          if (evt.type === 'dds:retrieve:manifest') {
            manifestFrom = (evt.detail as { from: string }).from
          }
          if (evt.type === 'dds:retrieve:providers') {
            providersFound += (evt.detail as { providers: number }).providers
          }
        }
      }))
      expect(sha256Hex(got)).toBe(sha256Hex(content))
      expect(manifestFrom).toBe(a.peerId)
      expect(providersFound).toBeGreaterThan(0)
    } finally {
      await cluster.stopNode(d)
    }
  })

  it('serves local content from the local store', async () => {
    const content = pseudoRandomBytes(2 * CHUNK_SIZE + 3, 5)
    const cid = await a.publish(content)
    const sources = new Set<string>()
    const got = await collect(a.retrieve(cid, {
      onProgress: (evt) => {
        if (evt.type === 'dds:retrieve:chunk' || evt.type === 'dds:retrieve:manifest') {
          sources.add(String((evt.detail as { from: string }).from))
        }
      }
    }))
    expect(sha256Hex(got)).toBe(sha256Hex(content))
    expect([...sources]).toEqual(['local'])
  })

  it('gives identical CIDs whatever the input slicing', async () => {
    const content = pseudoRandomBytes(3 * CHUNK_SIZE + 1234, 11)
    const whole = await a.publish(content)
    const odd = await a.publish(sliced(content, [1, 7, 65536, 262143, 3, 262145]))
    const stream = await a.publish(new ReadableStream<Uint8Array>({
      start (controller) {
        for (let i = 0; i < content.byteLength; i += 100_000) {
          controller.enqueue(content.slice(i, i + 100_000))
        }
        controller.close()
      }
    }))
    const iterable = await a.publish([content.slice(0, 10), content.slice(10)])
    expect(new Set([whole, odd, stream, iterable]).size).toBe(1)
  })

  it('accepts the base32 form of a CID and prints base58btc', async () => {
    const content = pseudoRandomBytes(1000, 3)
    const cid = await a.publish(content)
    const { CID } = await import('multiformats/cid')
    const { base58btc } = await import('multiformats/bases/base58')
    const base32 = CID.parse(cid, base58btc).toString()
    expect(base32.startsWith('b')).toBe(true)
    expect(sha256Hex(await c.retrieveBytes(base32))).toBe(sha256Hex(content))
  })
})

describe('a LevelDB node that restarts', () => {
  const cluster = new Cluster(OWN_DEADLINES)
  afterEach(async () => { await cluster.stop() })

  it('keeps its peer id and still serves what it published', async () => {
    const dir = join(await cluster.dir('dds-restart-'), 'repo')
    const content = pseudoRandomBytes(2 * CHUNK_SIZE + 17, 42)
    const first = await cluster.node({ storage: dir })
    const peerId = first.peerId
    const cid = await first.publish(content)
    await cluster.stopNode(first)

    const reopened = await cluster.node({ storage: dir })
    expect(reopened.peerId).toBe(peerId)
    expect(await reopened.has(cid)).toBe(true)
    expect(sha256Hex(await reopened.retrieveBytes(cid))).toBe(sha256Hex(content))

    const reader = await cluster.node({ bootstrap: reopened.getMultiaddrs() })
    expect(sha256Hex(await reader.retrieveBytes(cid))).toBe(sha256Hex(content))
  })
})
