/**
 * The node's life around publish and retrieve: announcing what was
 * published before the node had peers, failures while creating a node or
 * writing a publish, and what a stopped node refuses.
 */
import { describe, it, expect, afterEach } from 'vitest'
import { memoryStorage, DDS_PROTOCOL, StorageError, type StorageProvider, type Block } from '../../src/index.js'
import { MemoryDatastore } from 'datastore-core'
import { Cluster } from '../utils/cluster.js'
import { pseudoRandomBytes, sha256Hex } from '../utils/content.js'

describe('node lifecycle', () => {
  const cluster = new Cluster()
  afterEach(async () => { await cluster.stop() })

  it('announces content published while alone once it joins a network', async () => {
    const a = await cluster.node()
    const content = pseudoRandomBytes(2 * 262144 + 9, 77)
    const announced: number[] = []
    const cid = await a.publish(content, {
      onProgress: (evt) => { if (evt.type === 'dds:publish:announced') announced.push((evt.detail as { peers: number }).peers) }
    })
    expect(announced).toEqual([0])

    const hub = await cluster.node()
    await a.connect(hub.getMultiaddrs()[0]!)
    const c = await cluster.node({ bootstrap: hub.getMultiaddrs(), retrieval: { providerTimeoutMs: 10_000 } })
    // C only knows the hub: it can find A only through A's provider record
    expect(c.libp2p.getConnections(a.libp2p.peerId).filter(conn => conn.direction === 'outbound')).toHaveLength(0)
    let manifestFrom = ''
    const got = await c.retrieveBytes(cid, {
      onProgress: (evt) => { if (evt.type === 'dds:retrieve:manifest') manifestFrom = (evt.detail as { from: string }).from }
    })
    expect(sha256Hex(got)).toBe(sha256Hex(content))
    expect(manifestFrom).toBe(a.peerId)
  })

  it('rejects a publish whose store write fails, without crashing the process', async () => {
    const failing = failingStore(2)
    // a StorageProvider of one's own keeps no records: its pins go to a datastore beside it
    const a = await cluster.node({ storage: failing, datastore: new MemoryDatastore() })
    async function * slow (): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 64; i++) {
        // one chunk per turn of the event loop: the failing write comes mid-way through the input
        await new Promise(resolve => setImmediate(resolve))
        yield pseudoRandomBytes(262144, i + 1)
      }
    }
    await expect(a.publish(slow())).rejects.toThrowError(expect.objectContaining({ name: 'StorageError' }))
    // the node is still usable
    const cid = await a.publish(new TextEncoder().encode('after the failure'))
    expect(new TextDecoder().decode(await a.retrieveBytes(cid))).toBe('after the failure')
  })

  it('releases everything when create fails, including the protocol on a given libp2p node', async () => {
    const libp2p = await cluster.libp2p()
    const unreachable = '/ip4/127.0.0.1/tcp/1/p2p/12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp'
    await expect(cluster.node({ libp2p, bootstrap: [unreachable], bootstrapTimeoutMs: 2_000 }))
      .rejects.toThrowError(expect.objectContaining({ name: 'RemoteError' }))
    expect(libp2p.getProtocols()).not.toContain(DDS_PROTOCOL)
    expect(libp2p.status).toBe('started')
  })

  it('refuses calls after stop with NotStartedError', async () => {
    const a = await cluster.node()
    await a.stop()
    await a.stop()
    expect(() => a.retrieve('zb2rhe5P4gXftAwvA4eXQ5HJwsER2owDyS9sKaQRRVQPn93bA')).toThrowError(expect.objectContaining({ name: 'NotStartedError' }))
    await expect(a.publish(new Uint8Array(1))).rejects.toThrowError(expect.objectContaining({ name: 'NotStartedError' }))
  })
})

/** A real memory store whose putMany fails from the `n`th call on (a full disk, say). */
function failingStore (n: number): StorageProvider {
  const store = memoryStorage()
  let calls = 0
  let failing = true
  return Object.assign(Object.create(null) as StorageProvider, {
    kind: 'failing-memory',
    open: async () => { await store.open() },
    close: async () => { await store.close() },
    put: async (cid: Parameters<StorageProvider['put']>[0], bytes: Uint8Array) => { await store.put(cid, bytes) },
    putMany: async (blocks: Iterable<Block>) => {
      calls++
      if (failing && calls >= n) {
        failing = false
        await new Promise(resolve => setImmediate(resolve))
        throw new StorageError('disk full')
      }
      await store.putMany(blocks)
    },
    get: async (cid: Parameters<StorageProvider['get']>[0]) => store.get(cid),
    has: async (cid: Parameters<StorageProvider['has']>[0]) => store.has(cid),
    delete: async (cid: Parameters<StorageProvider['delete']>[0]) => { await store.delete(cid) },
    list: (options?: Parameters<StorageProvider['list']>[0]) => store.list(options),
    stats: async () => store.stats()
  })
}
