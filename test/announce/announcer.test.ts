import { afterEach, describe, expect, it, vi } from 'vitest'
import type { AbortOptions } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import { CHUNK_SIZE, cidToString, COLLECTION_MEDIA_TYPE, encodeCollection, memoryStorage, type Discovery, type ProvideResult, type StorageProvider } from '../../src/index.js'
import { announcer, type AnnounceStrategy, type Announcer } from '../../src/announce/index.js'
import { REANNOUNCE_DELAY_MS } from '../../src/announce/constants.js'
import { pseudoRandomBytes } from '../utils/content.js'
import { storeContent } from '../utils/stored-content.js'

/**
 * A discovery that records what it is asked to provide and answers with the
 * number of DHT peers it is told to; it knows a peer once `peers` is above 0.
 */
class RecordingDiscovery implements Discovery {
  readonly provided: string[] = []
  peers = 1

  async provide (cid: CID, _options?: AbortOptions): Promise<ProvideResult> {
    this.provided.push(cidToString(cid))
    return { peers: this.peers }
  }

  async * findProviders (): AsyncGenerator<never> {}

  async waitForPeers (): Promise<boolean> {
    return this.peers > 0
  }
}

/** The part of a libp2p node the announcer listens to: connection events and the open connections. */
class Connections extends EventTarget {
  open = 0

  getConnections (): unknown[] {
    return Array.from({ length: this.open }, () => ({}))
  }
}

describe('the announcer', () => {
  let storage: StorageProvider
  let running: Announcer | undefined

  afterEach(async () => {
    running?.stop()
    running = undefined
    vi.useRealTimers()
    await storage?.close()
  })

  async function setup (strategy: AnnounceStrategy, chunksPerBlock?: number): Promise<{ discovery: RecordingDiscovery, connections: Connections, node: Announcer, content: Awaited<ReturnType<typeof storeContent>> }> {
    storage = memoryStorage()
    await storage.open()
    const content = await storeContent(storage, pseudoRandomBytes(5 * CHUNK_SIZE), chunksPerBlock)
    const discovery = new RecordingDiscovery()
    const connections = new Connections()
    const node = announcer({ strategy })({ discovery, storage, libp2p: connections as never })
    node.start()
    running = node
    return { discovery, connections, node, content }
  }

  it("with 'all', announces the manifest at once and every other block in the background", async () => {
    const { discovery, node, content } = await setup('all', 2)
    expect(await node.announcePublished(content.cid, content.manifest)).toEqual({ peers: 1 })
    expect(discovery.provided[0]).toBe(cidToString(content.cid))
    await node.onIdle()
    expect(node.pending).toBe(0)
    expect([...discovery.provided].sort()).toEqual([content.cid, ...content.chunks, ...content.nodes].map(cidToString).sort())
  })

  it("with 'manifest', announces the manifest only", async () => {
    const { discovery, node, content } = await setup('manifest')
    await node.announcePublished(content.cid, content.manifest)
    node.announceHeld(content.cid)
    await node.onIdle()
    expect(discovery.provided).toEqual([cidToString(content.cid), cidToString(content.cid)])
  })

  it("with 'manifest', announces a collection's list at once and each entry's manifest (not their chunks) in the background", async () => {
    const { discovery, node, content } = await setup('manifest')
    const other = await storeContent(storage, pseudoRandomBytes(2 * CHUNK_SIZE, 2))
    const list = encodeCollection([
      { path: 'a/one.bin', cid: content.cid, size: content.manifest.size },
      { path: 'a/two.bin', cid: other.cid, size: other.manifest.size },
      { path: 'b/again.bin', cid: other.cid, size: other.manifest.size }
    ])
    const collection = await storeContent(storage, list, undefined, { mediaType: COLLECTION_MEDIA_TYPE })
    await node.announcePublished(collection.cid, collection.manifest)
    expect(discovery.provided[0]).toBe(cidToString(collection.cid))
    await node.onIdle()
    expect([...discovery.provided].sort()).toEqual([collection.cid, content.cid, other.cid].map(cidToString).sort())

    // held (pinned, a replica): the same, and onIdle waits for the list to be read
    discovery.provided.length = 0
    node.announceHeld(collection.cid)
    await node.onIdle()
    expect([...discovery.provided].sort()).toEqual([collection.cid, content.cid, other.cid].map(cidToString).sort())
  })

  it("with 'manifest', announces of the blocks peers store here only manifests", async () => {
    const { discovery, node, content } = await setup('manifest')
    node.announceBlock(content.chunks[0]!)
    node.announceBlock(content.cid)
    await node.onIdle()
    expect(discovery.provided).toEqual([cidToString(content.cid)])
  })

  it("with 'none', announces nothing of content, but still the blocks peers store here", async () => {
    const { discovery, node, content } = await setup('none')
    expect(await node.announcePublished(content.cid, content.manifest)).toBeUndefined()
    node.announceHeld(content.cid)
    node.announceBlock(content.chunks[0]!)
    await node.onIdle()
    expect(discovery.provided).toEqual([cidToString(content.chunks[0]!)])
  })

  it('announces again, once a peer connects, what reached no DHT peer', async () => {
    const { discovery, connections, node, content } = await setup('manifest')
    discovery.peers = 0
    await node.announcePublished(content.cid, content.manifest)
    expect(discovery.provided).toEqual([cidToString(content.cid)])

    vi.useFakeTimers()
    discovery.peers = 1
    connections.dispatchEvent(new Event('peer:connect'))
    const idle = node.onIdle()
    await vi.advanceTimersByTimeAsync(REANNOUNCE_DELAY_MS - 1)
    expect(discovery.provided).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(1)
    await idle
    expect(discovery.provided).toEqual([cidToString(content.cid), cidToString(content.cid)])

    // reached a peer this time: a later connection announces nothing more
    connections.dispatchEvent(new Event('peer:connect'))
    await vi.advanceTimersByTimeAsync(REANNOUNCE_DELAY_MS)
    await node.onIdle()
    expect(discovery.provided).toHaveLength(2)
  })

  it('schedules the re-announcement itself when it reached nobody while connected', async () => {
    const { discovery, connections, node, content } = await setup('manifest')
    vi.useFakeTimers()
    discovery.peers = 0
    connections.open = 1
    await node.announcePublished(content.cid, content.manifest)
    discovery.peers = 1
    await vi.advanceTimersByTimeAsync(REANNOUNCE_DELAY_MS)
    await node.onIdle()
    expect(discovery.provided).toEqual([cidToString(content.cid), cidToString(content.cid)])
  })

  it('after stop, a connection announces nothing and onIdle resolves', async () => {
    const { discovery, connections, node, content } = await setup('manifest')
    discovery.peers = 0
    await node.announcePublished(content.cid, content.manifest)
    vi.useFakeTimers()
    node.stop()
    connections.dispatchEvent(new Event('peer:connect'))
    await vi.advanceTimersByTimeAsync(REANNOUNCE_DELAY_MS * 4)
    await node.onIdle()
    expect(discovery.provided).toHaveLength(1)
  })

  it('refuses an unknown strategy', () => {
    expect(() => announcer({ strategy: 'some' as AnnounceStrategy })).toThrow(expect.objectContaining({ name: 'InvalidInputError' }))
  })

  it('announces again one part of the key space per period, in the order the clock gives, and stops with the node', async () => {
    storage = memoryStorage()
    await storage.open()
    const partMs = 1000
    const parts: number[] = []
    const discovery = new RecordingDiscovery() as RecordingDiscovery & Pick<Discovery, 'reannouncePart'>
    discovery.reannouncePart = async (part: number, of: number) => {
      parts.push(part)
      expect(of).toBe(24)
      return { records: 10 + part, reached: 9 + part }
    }
    vi.useFakeTimers()
    vi.setSystemTime(29 * partMs + 400)
    const node = announcer({ strategy: 'manifest', reannouncePartMs: partMs })({ discovery, storage, libp2p: new Connections() as never })
    node.start()
    running = node
    await vi.advanceTimersByTimeAsync(599)
    expect(parts).toEqual([])
    await vi.advanceTimersByTimeAsync(1)
    // the 30th period since the epoch: part 30 mod 24
    expect(parts).toEqual([6])
    expect(node.lastReannounce).toMatchObject({ part: 6, parts: 24, records: 16, reached: 15 })
    await vi.advanceTimersByTimeAsync(2 * partMs)
    expect(parts).toEqual([6, 7, 8])
    node.stop()
    await vi.advanceTimersByTimeAsync(5 * partMs)
    expect(parts).toEqual([6, 7, 8])

    // strategy 'none' announces nothing, again or not
    const silent = announcer({ strategy: 'none', reannouncePartMs: partMs })({ discovery, storage, libp2p: new Connections() as never })
    silent.start()
    await vi.advanceTimersByTimeAsync(3 * partMs)
    silent.stop()
    expect(parts).toEqual([6, 7, 8])
  })
})

