/**
 * Content descriptions, `stat`, the catalog protocol and the node's counters,
 * on real nodes over TCP on 127.0.0.1.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import type { Libp2p } from '@libp2p/interface'
import {
  CHUNK_SIZE, InvalidInputError, NotFoundError, ProtocolError, RejectedError, cidForBlock, type Dds
} from '../../src/index.js'
import { Status } from '../../src/pb/index.js'
import { scriptedResponder } from '../network/harness.js'
import { Cluster } from '../utils/cluster.js'

describe('descriptions, stat and the catalog', () => {
  const cluster = new Cluster()
  const extra: Libp2p[] = []
  afterEach(async () => {
    await cluster.stop()
    await Promise.all(extra.splice(0).map(async n => { await n.stop() }))
  })

  async function pair (init: Parameters<Cluster['node']>[0] = {}): Promise<[Dds, Dds]> {
    const a = await cluster.node(init)
    const b = await cluster.node({ bootstrap: a.getMultiaddrs() })
    return [a, b]
  }

  it('records name, media type and metadata, and stat tells them on the publisher and on another node without fetching the content', async () => {
    const [a, b] = await pair()
    const bytes = randomBytes(2 * CHUNK_SIZE + 17)
    const cid = await a.publish(bytes, { name: 'song.wav', mediaType: 'audio/wav', metadata: { title: 'Night Drive', artist: 'The Loops' } })

    const here = await a.stat(cid)
    expect(here).toEqual({
      cid, size: bytes.byteLength, chunks: 3, name: 'song.wav', mediaType: 'audio/wav',
      metadata: { artist: 'The Loops', title: 'Night Drive' }, local: true, pin: 'local'
    })

    expect(await a.stat(cid, { checkLocal: false })).toEqual({ ...here, local: undefined })
    expect('local' in await a.stat(cid, { checkLocal: false })).toBe(false)

    const there = await b.stat(cid)
    expect(there).toEqual({ ...here, local: false, pin: undefined })
    expect('pin' in there).toBe(false)
    // only the manifest crossed; nothing was stored on B
    expect((await b.storage.stats()).blocks).toBe(0)
    expect(b.stats().chunksFetched).toBe(0)

    // once B holds it all, stat says so
    await b.pin(cid)
    expect(await b.stat(cid)).toMatchObject({ local: true, pin: 'local' })
    expect(Buffer.from(await b.retrieveBytes(cid)).equals(bytes)).toBe(true)
  })

  it('fetches a manifest from peers once for stat then retrieve, and for repeated ranges', async () => {
    const [a, b] = await pair()
    const bytes = randomBytes(3 * CHUNK_SIZE)
    const cid = await a.publish(bytes)
    await b.stat(cid, { checkLocal: false })
    const before = a.stats().chunksServed
    expect(Buffer.from(await b.retrieveBytes(cid)).equals(bytes)).toBe(true)
    // the three chunks, not the manifest again
    expect(a.stats().chunksServed - before).toBe(3)
    const range = await b.retrieveBytes(cid, { offset: CHUNK_SIZE, length: 10 })
    expect(Buffer.from(range).equals(bytes.subarray(CHUNK_SIZE, CHUNK_SIZE + 10))).toBe(true)
    expect(a.stats().chunksServed - before).toBe(4)
  })

  it('reports local: false when a chunk of the content is missing', async () => {
    const a = await cluster.node()
    const bytes = randomBytes(CHUNK_SIZE + 5)
    const cid = await a.publish(bytes)
    expect((await a.stat(cid)).local).toBe(true)
    await a.storage.delete(cidForBlock(bytes.subarray(CHUNK_SIZE)))
    const stat = await a.stat(cid)
    expect(stat.local).toBe(false)
    expect(stat.metadata).toEqual({})
    expect(stat.name).toBeUndefined()
  })

  it('refuses a bad description before reading the input, and a bad CID in stat', async () => {
    const a = await cluster.node()
    let read = false
    async function * input (): AsyncGenerator<Uint8Array> {
      read = true
      yield new Uint8Array(10)
    }
    await expect(a.publish(input(), { metadata: { 'not ok': 'x' } })).rejects.toThrow(InvalidInputError)
    await expect(a.publish(input(), { mediaType: 'text/html\nX: y' })).rejects.toThrow(InvalidInputError)
    await expect(a.publish(input(), { name: '../etc/passwd' })).rejects.toThrow(InvalidInputError)
    expect(read).toBe(false)
    expect((await a.storage.stats()).blocks).toBe(0)
    await expect(a.stat('not-a-cid')).rejects.toThrow(InvalidInputError)
  })

  it('answers stat of content nobody holds with NotFoundError after the bounded search', async () => {
    const [, b] = await pair()
    await expect(b.stat(cidForBlock(randomBytes(64)))).rejects.toThrow(NotFoundError)
  })

  it('lets another node list the catalog with descriptions, page by page, and a page past the end is empty', async () => {
    const [a, b] = await pair()
    const published: string[] = []
    for (let i = 0; i < 5; i++) {
      const cid = await a.publish(randomBytes(1000 + i), { name: `t${i}.wav`, mediaType: 'audio/wav', metadata: { title: `Track ${i}`, artist: 'A' } })
      published.push(cid)
    }
    const plain = await a.publish(randomBytes(100))
    const all = [...published, plain].sort()

    const local = await a.catalog()
    expect(local.map(e => e.cid)).toEqual(all)
    const remote = await b.catalog(a.peerId)
    expect(remote).toEqual(local)
    const track = remote.find(e => e.cid === published[2])
    expect(track).toEqual({ cid: published[2], size: 1002, name: 't2.wav', mediaType: 'audio/wav', metadata: { artist: 'A', title: 'Track 2' } })
    expect(remote.find(e => e.cid === plain)).toEqual({ cid: plain, size: 100, metadata: {} })

    const first = await b.catalogPage(a.peerId, { limit: 4 })
    expect(first.entries.map(e => e.cid)).toEqual(all.slice(0, 4))
    expect(first.next).toBe(all[3])
    const second = await b.catalogPage(a.peerId, { limit: 4, after: first.next })
    expect(second.entries.map(e => e.cid)).toEqual(all.slice(4))
    expect(second.next).toBeUndefined()
    const past = await b.catalogPage(a.peerId, { limit: 4, after: all[5] })
    expect(past).toEqual({ entries: [] })

    // gathering with a small limit stops at the limit
    expect((await b.catalog(a.peerId, { limit: 3 })).map(e => e.cid)).toEqual(all.slice(0, 3))

    // unpinned content leaves the catalog
    await a.unpin(published[0]!)
    expect((await b.catalog(a.peerId)).map(e => e.cid)).not.toContain(published[0])
  })

  it('answers REJECTED when the catalog policy says no, and browse reports each peer', async () => {
    const open = await cluster.node()
    const closed = await cluster.node({ network: { catalogPolicy: 'none' } })
    const b = await cluster.node({ bootstrap: [...open.getMultiaddrs(), ...closed.getMultiaddrs()] })
    const cid = await open.publish(randomBytes(300), { metadata: { title: 'Open' } })
    await closed.publish(randomBytes(300), { metadata: { title: 'Closed' } })

    await expect(b.catalog(closed.peerId)).rejects.toThrow(RejectedError)
    await expect(b.catalogPage(closed.peerId)).rejects.toThrow(/catalog policy/)

    const catalogs = await b.browse()
    const byPeer = new Map(catalogs.map(c => [c.peer, c]))
    expect(byPeer.get(open.peerId)?.entries.map(e => e.cid)).toEqual([cid])
    expect(byPeer.get(open.peerId)?.error).toBeUndefined()
    expect(byPeer.get(closed.peerId)?.entries).toEqual([])
    expect(byPeer.get(closed.peerId)?.error).toBeInstanceOf(RejectedError)
  })

  it('lets only listed peers read the catalog with a peer list policy', async () => {
    const friend = await cluster.node()
    const stranger = await cluster.node()
    const a = await cluster.node({ network: { catalogPolicy: [friend.peerId] } })
    await friend.connect(a.getMultiaddrs()[0]!)
    await stranger.connect(a.getMultiaddrs()[0]!)
    await a.publish(randomBytes(10), { name: 'x.bin' })
    expect(await friend.catalog(a.peerId)).toHaveLength(1)
    await expect(stranger.catalog(a.peerId)).rejects.toThrow(RejectedError)
  })

  it('refuses invalid catalog answers from a peer with ProtocolError', async () => {
    const b = await cluster.node()
    const liar = await scriptedResponder((req, reply) => {
      reply({
        id: req.id,
        catalog: {
          status: Status.OK,
          entries: [{ cid: cidForBlock(new Uint8Array(1)).bytes, size: 1, mediaType: 'text/html\r\nSet-Cookie: x=1' }]
        }
      })
    })
    extra.push(liar)
    await b.libp2p.peerStore.merge(liar.peerId, { multiaddrs: liar.getMultiaddrs() })
    await expect(b.catalog(liar.peerId)).rejects.toThrow(ProtocolError)

    const flood = await scriptedResponder((req, reply) => {
      const entry = { cid: cidForBlock(new Uint8Array(2)).bytes, size: 2 }
      reply({ id: req.id, catalog: { status: Status.OK, entries: Array.from({ length: 3 }, () => entry) } })
    })
    extra.push(flood)
    await b.libp2p.peerStore.merge(flood.peerId, { multiaddrs: flood.getMultiaddrs() })
    await expect(b.catalogPage(flood.peerId, { limit: 2 })).rejects.toThrow(/at most 2/)
  })

  it('rejects bad catalog arguments with InvalidInputError', async () => {
    const a = await cluster.node()
    await expect(a.catalog('not a peer id')).rejects.toThrow(InvalidInputError)
    await expect(a.catalogPage(undefined, { limit: 0 })).rejects.toThrow(InvalidInputError)
    await expect(a.catalogPage(undefined, { limit: 501 })).rejects.toThrow(InvalidInputError)
    await expect(a.catalogPage(undefined, { after: 'zzz' })).rejects.toThrow(InvalidInputError)
  })

  it('counts blocks served and fetched, retrievals by outcome and peers', async () => {
    const [a, b] = await pair()
    const bytes = randomBytes(3 * CHUNK_SIZE)
    const cid = await a.publish(bytes)
    expect(b.stats().peers).toBeGreaterThanOrEqual(1)
    expect(b.peers().map(p => p.peer)).toContain(a.peerId)
    expect(b.peers().find(p => p.peer === a.peerId)?.addrs[0]).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\//)

    expect(Buffer.from(await b.retrieveBytes(cid)).equals(bytes)).toBe(true)
    const after = b.stats()
    expect(after.chunksFetched).toBe(3)
    expect(after.bytesFetched).toBe(bytes.byteLength)
    expect(after.retrievals).toEqual({ ok: 1, notFound: 0, integrity: 0, aborted: 0, timeout: 0, error: 0 })
    // three chunks and the manifest
    expect(a.stats().chunksServed).toBeGreaterThanOrEqual(4)
    expect(a.stats().bytesServed).toBeGreaterThan(bytes.byteLength)

    await expect(b.retrieveBytes(cidForBlock(randomBytes(32)))).rejects.toThrow(NotFoundError)
    for await (const _ of b.retrieve(cid)) {
      break
    }
    expect(b.stats().retrievals).toMatchObject({ ok: 1, notFound: 1, aborted: 1 })
  })
})
