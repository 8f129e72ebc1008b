/**
 * A retrieval ends soon after its signal aborts, whatever its peers (and the
 * libp2p node under it) do: it rejects with AbortError instead of waiting
 * for a lookup, a dial or a write that may never settle.
 */
import { randomBytes } from 'node:crypto'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { MemoryDatastore } from 'datastore-core'
import type { Key } from 'interface-datastore'
import type { AbortOptions, PeerId } from '@libp2p/interface'
import { afterEach, describe, expect, it } from 'vitest'
import { AbortError, DDS_KAD_PROTOCOL, cidForBlock, ddsDht, type DdsLibp2p } from '../../src/index.js'
import { drain, type Outcome } from './helpers.js'
import { Cluster } from '../utils/cluster.js'
import { pseudoRandomBytes } from '../utils/content.js'
import { waitFor } from '../utils/wait.js'

/** How long after its signal aborts a retrieval may take to end: generous, the machine is shared. */
const AFTER_ABORT_MS = 10_000

/** Deadlines far beyond the test: only the abort can end these retrievals in time. */
const LONG = {
  retrieval: { blockTimeoutMs: 120_000, providerTimeoutMs: 300_000 },
  discoveryOptions: { findTimeout: 300_000 }
}

/**
 * Drains `iterable`, aborts `controller` once `ready` holds, and resolves with
 * how the retrieval ended, or with `ended: false` when it had not ended
 * `AFTER_ABORT_MS` after the abort.
 */
async function abortWhen (iterable: AsyncIterable<Uint8Array>, controller: AbortController, ready: () => boolean, what: string): Promise<{ ended: boolean, outcome?: Outcome, msAfterAbort?: number }> {
  let settled: Outcome | undefined
  const pending = drain(iterable).then(outcome => { settled = outcome; return outcome })
  await waitFor(() => ready() || settled != null, what)
  expect(settled, 'the retrieval ended before the abort').toBeUndefined()
  const abortedAt = Date.now()
  controller.abort()
  let timer: ReturnType<typeof setTimeout> | undefined
  const outcome = await Promise.race([pending, new Promise<undefined>(resolve => { timer = setTimeout(() => { resolve(undefined) }, AFTER_ABORT_MS) })])
  clearTimeout(timer)
  return outcome == null ? { ended: false } : { ended: true, outcome, msAfterAbort: Date.now() - abortedAt }
}

/**
 * A memory datastore whose writes of one peer's peer-store record wait until
 * `release()`: a libp2p node whose store stalls (say a disk saturated by the
 * DHT records it takes in) while the peer store holds that peer's lock.
 */
class StallingDatastore extends MemoryDatastore {
  stalled = 0
  private target?: string
  private readonly gate = Promise.withResolvers<void>()

  /** Stalls every later write of `peer`'s peer-store record. */
  stall (peer: PeerId): void {
    this.target = `/peers/${peer.toCID().toString()}`
  }

  release (): void {
    this.gate.resolve()
  }

  override async put (key: Key, value: Uint8Array, options?: AbortOptions): Promise<Key> {
    if (this.target != null && key.toString() === this.target) {
      this.stalled++
      await this.gate.promise
    }
    return super.put(key, value, options)
  }
}

/** A DDS-capable libp2p node (TCP on 127.0.0.1, the DDS DHT) on `datastore`. */
async function nodeOn (datastore: MemoryDatastore): Promise<DdsLibp2p> {
  return await createLibp2p({
    datastore,
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { allow: ['/ip4/127.0.0.1'] },
    services: { identify: identify(), ping: ping(), dht: ddsDht() }
  }) as unknown as DdsLibp2p
}

function routingTableSize (node: DdsLibp2p): number {
  return (node.services.dht as unknown as { routingTable: { size: number } }).routingTable.size
}

describe('a retrieval ends once its signal aborts', () => {
  const cluster = new Cluster()
  const releases: Array<() => void> = []
  afterEach(async () => {
    releases.splice(0).forEach(release => { release() })
    await cluster.stop()
  })

  it('while the only DHT peer never answers a provider lookup', async () => {
    const r = await cluster.node(LONG)
    const mute = await cluster.libp2p()
    await mute.unhandle(DDS_KAD_PROTOCOL)
    let lookups = 0
    await mute.handle(DDS_KAD_PROTOCOL, (stream) => {
      stream.addEventListener('message', () => { lookups++ })
    })
    await r.connect(mute.getMultiaddrs()[0]!.toString())
    await waitFor(() => routingTableSize(r.libp2p) > 0, 'the mute peer in the DHT routing table')
    const controller = new AbortController()
    const got = await abortWhen(r.retrieve(cidForBlock(randomBytes(64)), { signal: controller.signal }), controller, () => lookups > 0, 'a lookup to reach the mute peer')
    expect(got.ended, 'the retrieval ended after its signal aborted').toBe(true)
    expect(got.outcome?.error).toBeInstanceOf(AbortError)
  })

  it("while the peer store stalls writing the record of the holder the DHT leads to", async () => {
    // D, a DHT peer without the DDS protocol, is all R knows; it leads R's
    // lookup to P, which R is not connected to. R's datastore stalls every
    // write of P's peer-store record: the DHT's own bookkeeping of P, the
    // dial of P and the provider search's recording of P's addresses all
    // wait on it (under P's lock in the peer store).
    const d = await cluster.libp2p()
    const p = await cluster.node({ bootstrap: d.getMultiaddrs().map(String) })
    await waitFor(() => routingTableSize(p.libp2p) > 0, "D in P's DHT routing table")
    const cid = await p.publish(pseudoRandomBytes(64 * 1024, 7))
    await p.awaitAnnouncements()

    const datastore = new StallingDatastore()
    releases.push(() => { datastore.release() })
    const r = await cluster.node({ ...LONG, libp2p: await nodeOn(datastore) })
    await cluster.connect(r.libp2p, d)
    expect(r.libp2p.getConnections(p.libp2p.peerId)).toHaveLength(0)
    datastore.stall(p.libp2p.peerId)

    const controller = new AbortController()
    const got = await abortWhen(r.retrieve(cid, { signal: controller.signal }), controller, () => datastore.stalled > 0, "the write of P's peer-store record to stall")
    expect(got.ended, 'the retrieval ended after its signal aborted').toBe(true)
    expect(got.outcome?.error).toBeInstanceOf(AbortError)
    expect(got.outcome?.chunks).toHaveLength(0)
  })
})
