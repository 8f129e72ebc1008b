/**
 * Providers that lie or vanish: peers that announce a content's manifest and
 * every chunk on the DHT, accept DDS streams and never answer. Beside one
 * real holder, every retrieval must succeed (the full-scale figures, against
 * a retrieval with no fake provider, come from `npm run attack`).
 */
import { describe, it, expect, afterAll, beforeAll } from 'vitest'
import { DDS_PROTOCOL, cidToString, parseCid, type Dds, type DdsLibp2p } from '../../src/index.js'
import { Cluster, OWN_DEADLINES } from '../utils/cluster.js'
import { chunkCid, equalBytes, pseudoRandomBytes } from '../utils/content.js'
import { WAIT_MS, waitFor } from '../utils/wait.js'

/** A DDS-DHT node that accepts DDS streams and never answers, announcing `cids`. */
async function fakeProvider (cluster: Cluster, hub: Dds, cids: string[]): Promise<DdsLibp2p> {
  const node = await cluster.libp2p()
  await node.handle(DDS_PROTOCOL, (stream) => {
    stream.addEventListener('message', () => {})
  })
  await node.dial(hub.libp2p.getMultiaddrs(), { signal: AbortSignal.timeout(WAIT_MS) })
  await waitFor(() => (node.services.dht as unknown as { routingTable: { size: number } }).routingTable.size > 0, 'the fake provider to have a DHT peer')
  await Promise.all(cids.map(async cid => {
    for await (const _ of node.services.dht.provide(parseCid(cid), { signal: AbortSignal.timeout(WAIT_MS) })) {}
  }))
  return node
}

describe('fake providers beside one real holder', () => {
  // the nodes' own deadlines: what a user who keeps the defaults gets
  const cluster = new Cluster(OWN_DEADLINES)
  const data = pseudoRandomBytes(16 * 262144, 71)
  let hub: Dds
  let holder: Dds
  let cid: string

  beforeAll(async () => {
    // the retrievers know only the hub, which holds nothing: holders are found through the DHT
    hub = await cluster.node()
    holder = await cluster.node({ bootstrap: hub.getMultiaddrs() })
    cid = await holder.publish(data)
    await holder.awaitAnnouncements()
    const baseline = await cluster.node({ bootstrap: hub.getMultiaddrs() })
    const started = Date.now()
    expect(equalBytes(await baseline.retrieveBytes(cid), data)).toBe(true)
    console.log(`retrieval with no fake provider: ${Date.now() - started} ms`)
    await baseline.stop()
    const chunks = Array.from({ length: 16 }, (_, i) => cidToString(chunkCid(data, i)))
    for (let i = 0; i < 5; i++) {
      await fakeProvider(cluster, hub, [cid, ...chunks])
    }
  }, 120_000)
  afterAll(async () => { await cluster.stop() })

  it('every retrieval succeeds', async () => {
    for (let i = 0; i < 3; i++) {
      const retriever = await cluster.node({ bootstrap: hub.getMultiaddrs() })
      const started = Date.now()
      const events: string[] = []
      const bytes = await retriever.retrieveBytes(cid, {
        onProgress: (e) => { if (e.type !== 'dds:retrieve:chunk') { events.push(`${Date.now() - started} ${e.type} ${(e.detail as { error?: Error }).error?.name ?? ''} ${String((e.detail as { peer?: unknown }).peer ?? '').slice(-6)} ${String((e.detail as { cid?: unknown }).cid ?? '').slice(-6)} ${(e.detail as { error?: Error }).error?.message ?? ''}`) } }
      })
      if (process.env.DEBUG_FAKES != null) console.log(events.join('\n'))
      expect(equalBytes(bytes, data)).toBe(true)
      console.log(`retrieval ${i + 1} with 5 fake providers: ${Date.now() - started} ms`)
      await retriever.stop()
    }
  }, 300_000)
})
