/**
 * A retrieval whose manifest comes from the recent manifests, whose
 * remembered holder has gone since: the chunks are found at a holder that
 * announced only the manifest, which the retriever has never met and which
 * no DHT lookup of a chunk leads to. The retriever and that holder are DHT
 * clients, so neither dials the other (a DHT server would be dialled by the
 * other's lookups and join the retrieval as a connected peer).
 */
import { describe, it, expect, afterEach } from 'vitest'
import { drain, recorder } from './helpers.js'
import { Cluster } from '../utils/cluster.js'
import { waitFor } from '../utils/wait.js'
import { CHUNK_SIZE, concat, equalBytes, pseudoRandomBytes } from '../utils/content.js'
import { parseCid } from '../../src/index.js'

describe('a remembered holder that has gone', () => {
  const cluster = new Cluster()
  afterEach(async () => { await cluster.stop() })

  it('leaves the chunks to the holders of the manifest found in the DHT', async () => {
    const data = pseudoRandomBytes(4 * CHUNK_SIZE, 93)
    const hub = await cluster.node()
    const first = await cluster.node({ bootstrap: hub.getMultiaddrs() })
    const cid = await first.publish(data)
    const r = await cluster.node({ libp2p: await cluster.libp2p({ dht: { clientMode: true } }), bootstrap: hub.getMultiaddrs() })
    // r fetches the manifest from `first` and remembers it as its holder
    const once = await drain(r.retrieve(cid))
    expect(once.error).toBeUndefined()

    // a second holder that serves no DHT and announces only the manifest
    const clientLibp2p = await cluster.libp2p({ dht: { clientMode: true } })
    expect(clientLibp2p.services.dht.getMode()).toBe('client')
    const second = await cluster.node({ libp2p: clientLibp2p, bootstrap: hub.getMultiaddrs(), announce: 'manifest' })
    expect(await second.publish(data)).toBe(cid)
    await waitFor(async () => {
      for await (const provider of hub.libp2p.contentRouting.findProviders(parseCid(cid), { signal: AbortSignal.timeout(2_000) })) {
        if (provider.id.equals(second.peerId)) {
          return true
        }
      }
      return false
    }, "the hub to hold the second holder's manifest record")

    const firstId = first.peerId
    await cluster.stopNode(first)
    await r.libp2p.hangUp(second.libp2p.peerId)
    expect(r.libp2p.getConnections(second.libp2p.peerId)).toEqual([])

    const progress = recorder()
    const again = await drain(r.retrieve(cid, { onProgress: progress.onProgress }))
    expect(again.error).toBeUndefined()
    expect(equalBytes(concat(again.chunks), data)).toBe(true)
    // the manifest came from the recent manifests, named after the holder gone
    expect((progress.of('dds:retrieve:manifest') as Array<{ from: string }>).map(d => d.from)).toEqual([firstId])
    const from = new Set((progress.of('dds:retrieve:chunk') as Array<{ from: string }>).map(d => d.from))
    expect([...from]).toEqual([second.peerId])
  })
})
