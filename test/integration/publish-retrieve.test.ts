/**
 * End to end over real libp2p nodes on 127.0.0.1: A and C each join through
 * B only, so C finds A's content on the DHT and fetches it from A without
 * ever having been connected to it.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Dds, CHUNK_SIZE } from '../../src/index.js'
import { pseudoRandomBytes, sliced, collect, sha256Hex } from '../utils/content.js'

describe('publish on A, retrieve on C through the DHT', () => {
  let dir: string
  let a: Dds, b: Dds, c: Dds

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dds-e2e-'))
    b = await Dds.create({ storage: join(dir, 'b'), replication: { factor: 1 } })
    a = await Dds.create({ storage: join(dir, 'a'), bootstrap: b.getMultiaddrs(), replication: { factor: 1 } })
    c = await Dds.create({ storage: join(dir, 'c'), bootstrap: b.getMultiaddrs(), replication: { factor: 1 } })
  })

  afterAll(async () => {
    await Promise.all([a, b, c].map(async n => n?.stop()))
    await rm(dir, { recursive: true, force: true })
  })

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
    const d = await Dds.create({ bootstrap: b.getMultiaddrs(), replication: { factor: 1 } })
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
      await d.stop()
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
  it('keeps its peer id and still serves what it published', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dds-restart-'))
    const content = pseudoRandomBytes(2 * CHUNK_SIZE + 17, 42)
    let reader: Dds | undefined
    let reopened: Dds | undefined
    try {
      const first = await Dds.create({ storage: join(dir, 'repo') })
      const peerId = first.peerId
      const cid = await first.publish(content)
      await first.stop()

      reopened = await Dds.create({ storage: join(dir, 'repo') })
      expect(reopened.peerId).toBe(peerId)
      expect(await reopened.has(cid)).toBe(true)
      expect(sha256Hex(await reopened.retrieveBytes(cid))).toBe(sha256Hex(content))

      reader = await Dds.create({ bootstrap: reopened.getMultiaddrs(), replication: { factor: 1 } })
      expect(sha256Hex(await reader.retrieveBytes(cid))).toBe(sha256Hex(content))
    } finally {
      await reader?.stop()
      await reopened?.stop()
      await rm(dir, { recursive: true, force: true })
    }
  })
})
