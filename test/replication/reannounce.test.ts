/** Announcements that last: a node that restarts announces what it holds again. */
import { describe, it, expect, afterEach } from 'vitest'
import type { CID } from 'multiformats/cid'
import { Cluster, FAST } from '../utils/cluster.js'
import { chunkCid, pseudoRandomBytes, sha256Hex } from '../utils/content.js'
import { WAIT_MS } from '../utils/wait.js'

describe('announcements after a restart', () => {
  // a stranger finds its provider only through the DHT: give the lookup time
  const cluster = new Cluster({ ...FAST, retrieval: { ...FAST.retrieval, providerTimeoutMs: 10_000 } })
  afterEach(async () => { await cluster.stop() })

  it('a LevelDB node that restarts announces its pins again, so a stranger finds it on the DHT', async () => {
    const dir = await cluster.dir('dds-reannounce-')
    const content = pseudoRandomBytes(2 * 262144 + 3, 81)
    // published alone: the record reached no DHT peer, and the process ends
    const first = await cluster.node({ storage: dir })
    const cid = await first.publish(content)
    await cluster.stopNode(first)

    const hub = await cluster.node()
    const reopened = await cluster.node({ storage: dir, bootstrap: hub.getMultiaddrs() })
    await reopened.awaitAnnouncements()
    const stranger = await cluster.node({ bootstrap: hub.getMultiaddrs() })
    // only the DHT can lead the stranger to the reopened node
    await stranger.libp2p.hangUp(reopened.libp2p.peerId)
    let from = ''
    const got = await stranger.retrieveBytes(cid, {
      onProgress: (evt) => { if (evt.type === 'dds:retrieve:manifest') from = (evt.detail as { from: string }).from }
    })
    expect(sha256Hex(got)).toBe(sha256Hex(content))
    expect(from).toBe(reopened.peerId)
  })

  it('awaitAnnouncements waits for what a node announces again when its first peer connects', async () => {
    const content = pseudoRandomBytes(3 * 262144, 82)
    // published alone: every announcement reached no DHT peer; 'all' makes
    // the chunks' announcements the background work awaited
    const alone = await cluster.node({ announce: 'all' })
    await alone.publish(content)
    const hub = await cluster.node()
    await alone.connect(hub.getMultiaddrs()[0]!)
    await alone.awaitAnnouncements()
    // nothing more can leave this node: only records already sent count
    const last = chunkCid(content, 2)
    const aloneId = alone.peerId
    await cluster.stopNode(alone)
    const stranger = await cluster.node({ bootstrap: hub.getMultiaddrs() })
    expect(await providersFound(stranger, last, aloneId)).toContain(aloneId)
  })

  it("announces the chunks of content with 'all' in one sweep, not a DHT provide each, and a stranger finds every chunk", async () => {
    const content = pseudoRandomBytes(6 * 262144 + 5, 83)
    const hub = await cluster.node()
    const others = await Promise.all([1, 2, 3].map(async () => cluster.node({ bootstrap: hub.getMultiaddrs() })))
    const publisher = await cluster.node({ announce: 'all', bootstrap: hub.getMultiaddrs() })
    const dht = publisher.libp2p.services.dht
    const provide = dht.provide.bind(dht)
    let provides = 0
    dht.provide = (...args: Parameters<typeof provide>) => { provides++; return provide(...args) }
    await publisher.publish(content)
    await publisher.awaitAnnouncements()
    // the manifest goes out on its own as publish resolves; the seven chunks in one sweep
    expect(provides).toBe(1)
    const publisherId = publisher.peerId
    await cluster.stopNode(publisher)
    const stranger = others[2]!
    for (const index of [0, 3, 6]) {
      expect(await providersFound(stranger, chunkCid(content, index), publisherId)).toContain(publisherId)
    }
  })
})


/** The providers of `cid` that `node` finds on the DHT, looking until it finds `wanted` or the wait ends. */
async function providersFound (node: Awaited<ReturnType<Cluster['node']>>, cid: CID, wanted: string): Promise<string[]> {
  const found = new Set<string>()
  try {
    for await (const evt of node.libp2p.services.dht.findProviders(cid, { signal: AbortSignal.timeout(WAIT_MS) })) {
      if (evt.name === 'PROVIDER') {
        evt.providers.forEach(p => found.add(p.id.toString()))
      }
      if (found.has(wanted)) {
        break
      }
    }
  } catch {}
  return [...found]
}
