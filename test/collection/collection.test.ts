/**
 * Collections (folders and albums) on real nodes: publishing entries as one
 * content, listing them, retrieving one by its path on another node, stat,
 * pins and gc treating a collection and its entries as one unit, a replica
 * fetching every entry, and hostile lists refused.
 */
import { describe, it, expect, afterEach } from 'vitest'
import {
  COLLECTION_MEDIA_TYPE, InvalidInputError, NotFoundError, checkPath, decodeCollection, encodeCollection, parseCid
} from '../../src/index.js'
import { pb } from '../../src/pb/index.js'
import { Cluster } from '../utils/cluster.js'
import { pseudoRandomBytes, sha256Hex } from '../utils/content.js'
import { waitFor } from '../utils/wait.js'

const tracks = [
  { path: 'disc 1/01 intro.flac', content: pseudoRandomBytes(300_000, 1), metadata: { title: 'Intro', artist: 'The Band' } },
  { path: 'disc 1/02 song.flac', content: pseudoRandomBytes(2 * 262144 + 17, 2), metadata: { title: 'Song', artist: 'The Band' } },
  { path: 'cover.jpg', content: pseudoRandomBytes(4096, 3), mediaType: 'image/jpeg' }
]

async function * slowly<T> (items: T[]): AsyncGenerator<T> {
  for (const item of items) {
    await new Promise(resolve => setImmediate(resolve))
    yield item
  }
}

describe('collections', () => {
  const cluster = new Cluster()
  afterEach(async () => { await cluster.stop() })

  it('publishes a folder as one content, lists it in path order, and retrieves an entry by path from another node', async () => {
    const a = await cluster.node()
    const cid = await a.publish(slowly(tracks), { name: 'The Album' })
    const entries = await a.list(cid)
    expect(entries.map(e => e.path)).toEqual(['cover.jpg', 'disc 1/01 intro.flac', 'disc 1/02 song.flac'])
    expect(entries[1]).toMatchObject({ name: '01 intro.flac', size: 300_000, metadata: { title: 'Intro', artist: 'The Band' } })
    expect(entries[0]).toMatchObject({ name: 'cover.jpg', mediaType: 'image/jpeg' })

    const stat = await a.stat(cid)
    expect(stat).toMatchObject({ name: 'The Album', mediaType: COLLECTION_MEDIA_TYPE, local: true, pin: 'local', collection: { entries: 3, size: 300_000 + 2 * 262144 + 17 + 4096 } })

    const b = await cluster.node({ bootstrap: a.getMultiaddrs() })
    const song = await b.retrieveBytes(cid, { path: 'disc 1/02 song.flac' })
    expect(sha256Hex(song)).toBe(sha256Hex(tracks[1]!.content))
    // a range of an entry
    const part = await b.retrieveBytes(cid, { path: 'disc 1/01 intro.flac', offset: 1000, length: 5000 })
    expect(sha256Hex(part)).toBe(sha256Hex(tracks[0]!.content.subarray(1000, 6000)))
    await expect(b.retrieveBytes(cid, { path: 'disc 2/none.flac' })).rejects.toBeInstanceOf(NotFoundError)
    await expect(b.retrieveBytes(cid, { path: '../etc/passwd' })).rejects.toBeInstanceOf(InvalidInputError)
    // the entry is content of its own too
    expect(sha256Hex(await b.retrieveBytes(entries[0]!.cid))).toBe(sha256Hex(tracks[2]!.content))
    // a file is no collection
    await expect(b.list(entries[0]!.cid)).rejects.toThrow(/is not a collection/)
  })

  it('with default options, each entry is announced on the DHT: a stranger finds a track by its own CID', async () => {
    const hub = await cluster.node()
    const a = await cluster.node({ bootstrap: hub.getMultiaddrs() })
    const cid = await a.publish(tracks.map(({ path, content }) => ({ path, content })), { name: 'The Album' })
    await a.awaitAnnouncements()
    const song = (await a.list(cid)).find(e => e.path === 'disc 1/02 song.flac')!
    const stranger = await cluster.node({ bootstrap: hub.getMultiaddrs() })
    // only the DHT can lead the stranger to the publisher
    await stranger.libp2p.hangUp(a.libp2p.peerId)
    let from = ''
    const got = await stranger.retrieveBytes(song.cid, {
      onProgress: (evt) => { if (evt.type === 'dds:retrieve:manifest') from = (evt.detail as { from: string }).from }
    })
    expect(sha256Hex(got)).toBe(sha256Hex(tracks[1]!.content))
    expect(from).toBe(a.peerId)
  })

  it('the same entries make the same CID, and an entry may name content already held', async () => {
    const a = await cluster.node()
    const first = await a.publish(tracks)
    const cover = await a.publish(tracks[2]!.content, { name: 'cover.jpg', mediaType: 'image/jpeg' })
    const again = await a.publish([tracks[0]!, tracks[1]!, { path: 'cover.jpg', cid: cover }])
    expect(again).toBe(first)
    await expect(a.publish([{ path: 'x', cid: 'zb2rhe5P4gXftAwvA4eXQ5HJwsER2owDyS9sKaQRRVQPn93bA' }])).rejects.toThrow(/not in this node's store/)
    await expect(a.publish([{ path: 'a', content: new Uint8Array(1) }, { path: 'a', content: new Uint8Array(2) }])).rejects.toThrow(/given twice/)
    await expect(a.publish([{ path: '/abs', content: new Uint8Array(1) }])).rejects.toThrow(/absolute/)
  })

  it('pins and gc treat a collection and its entries as one unit; an entry two collections share is stored once and kept while either is pinned', async () => {
    const a = await cluster.node({ storage: await cluster.dir() })
    const shared = pseudoRandomBytes(3 * 262144, 9)
    const one = await a.publish([{ path: 'shared.flac', content: shared }, { path: 'one.flac', content: pseudoRandomBytes(5000, 10) }])
    const two = await a.publish([{ path: 'best of/shared.flac', content: shared }, { path: 'two.flac', content: pseudoRandomBytes(6000, 11) }])
    const entriesOne = await a.list(one)
    const sharedCid = entriesOne.find(e => e.path === 'shared.flac')!.cid
    // same bytes under the same file name: the same content, stored once
    expect((await a.list(two)).find(e => e.path === 'best of/shared.flac')!.cid).toBe(sharedCid)
    // only the collections are pinned
    expect((await a.pins()).map(p => p.cid).sort()).toEqual([one, two].sort())

    await a.unpin(one)
    await a.gc()
    expect(await a.has(sharedCid)).toBe(true)
    expect(await a.has(entriesOne.find(e => e.path === 'one.flac')!.cid)).toBe(false)
    expect(await a.has(one)).toBe(false)
    expect(sha256Hex(await a.retrieveBytes(two, { path: 'best of/shared.flac' }))).toBe(sha256Hex(shared))

    await a.unpin(two)
    await a.gc()
    expect(await a.has(sharedCid)).toBe(false)
  })

  it('a pin on another node fetches the collection with every entry, and counts their size', async () => {
    const a = await cluster.node()
    const cid = await a.publish(tracks, { name: 'The Album' })
    const b = await cluster.node({ bootstrap: a.getMultiaddrs() })
    const pin = await b.pin(cid)
    expect(pin.size).toBe(tracks.reduce((sum, t) => sum + t.content.byteLength, 0) + (await a.stat(cid)).size)
    expect((await b.stat(cid)).local).toBe(true)
    for (const entry of await a.list(cid)) {
      expect(await b.has(entry.cid)).toBe(true)
    }
    await a.stop()
    expect(sha256Hex(await b.retrieveBytes(cid, { path: 'disc 1/01 intro.flac' }))).toBe(sha256Hex(tracks[0]!.content))
  })

  it('replication copies a collection with its entries', async () => {
    const b = await cluster.node()
    const a = await cluster.node({ bootstrap: b.getMultiaddrs(), replication: { factor: 2 } })
    const cid = await a.publish(tracks)
    const entries = await a.list(cid)
    await waitFor(async () => (await b.replicas()).some(r => r.cid === cid && r.state === 'complete'), 'B to hold a replica of the collection')
    for (const entry of entries) {
      expect(await b.has(entry.cid)).toBe(true)
    }
  })

  it('a CAR export of a collection carries its entries, and imports whole into a node that never saw it', async () => {
    const a = await cluster.node()
    const cid = await a.publish(tracks, { name: 'The Album' })
    const parts: Uint8Array[] = []
    for await (const piece of a.exportCar(cid)) {
      parts.push(piece)
    }
    const c = await cluster.node()
    expect(await c.importCar(Buffer.concat(parts))).toEqual([cid])
    expect((await c.stat(cid)).local).toBe(true)
    expect((await c.pins()).map(p => p.cid)).toEqual([cid])
    for (const [i, track] of tracks.entries()) {
      expect(sha256Hex(await c.retrieveBytes(cid, { path: track.path })), `track ${i}`).toBe(sha256Hex(track.content))
    }
  })

  it('refuses lists that could leave the folder they are written to, repeat a path, make a file also a folder, or are out of order', () => {
    const cid = parseCid('zb2rhe5P4gXftAwvA4eXQ5HJwsER2owDyS9sKaQRRVQPn93bA')
    const raw = (entries: Array<{ path: string }>): Uint8Array => pb.Collection.encode({ entries: entries.map(e => ({ path: e.path, cid: cid.bytes, size: 1 })) }).finish()
    for (const path of ['../up', 'a/../../up', '/etc/passwd', 'C:/x', 'a//b', './a', 'a\\b', 'a\u0000b', '']) {
      expect(() => decodeCollection(raw([{ path }]))).toThrow(InvalidInputError)
      expect(() => checkPath(path)).toThrow(InvalidInputError)
    }
    expect(() => decodeCollection(raw([{ path: 'a' }, { path: 'a' }]))).toThrow(/given twice/)
    expect(() => decodeCollection(raw([{ path: 'b' }, { path: 'a' }]))).toThrow(/canonical/)
    // a file that is also a folder, even when other paths sort between them
    expect(() => decodeCollection(raw([{ path: 'a' }, { path: 'a b' }, { path: 'a/b' }]))).toThrow(/is a file and also the folder of "a\/b"/)
    expect(() => encodeCollection([{ path: 'x/y', cid, size: 1 }, { path: 'x/y/z', cid, size: 1 }])).toThrow(InvalidInputError)
    expect(decodeCollection(encodeCollection([{ path: 'ab/c', cid, size: 1 }, { path: 'a', cid, size: 1 }])).map(e => e.path)).toEqual(['a', 'ab/c'])
    expect(() => decodeCollection(new Uint8Array([0xff, 0xff, 0xff]))).toThrow(InvalidInputError)
    const ok = encodeCollection([{ path: 'b', cid, size: 1 }, { path: 'a', cid, size: 2 }])
    expect(decodeCollection(ok).map(e => e.path)).toEqual(['a', 'b'])
  })
})
