/**
 * Slot jams: several identities, all on 127.0.0.1 like the honest peer, each
 * open 4 DDS streams, pipeline 16 requests on each and never read the
 * answers (RetrieveChunks for a block the victim holds, ReplicationInstructions
 * for random CIDs, tiny StoreChunks). While they hold on, an honest node
 * retrieves a few MiB from the victim with no provider failing; BUSY answers
 * carry a retry-after that reaches the requester as a BusyError, and a
 * retriever told BUSY comes back.
 */
import { describe, it, expect, afterEach } from 'vitest'
import { randomBytes } from 'node:crypto'
import type { Libp2p } from 'libp2p'
import type { CID } from 'multiformats/cid'
import { BusyError, type Dds } from '../../src/index.js'
import { cidForBlock } from '../../src/cid.js'
import { DDS_PROTOCOL } from '../../src/network/constants.js'
import { pb, Status, type RequestProps } from '../../src/pb/index.js'
import { Cluster } from '../utils/cluster.js'
import { chunkCid, equalBytes, pseudoRandomBytes } from '../utils/content.js'
import { RawStream, bareNode, encodeFrames, learn, serviceNode, type ServiceNode } from '../network/harness.js'
import { waitFor } from '../utils/wait.js'

const ATTACKERS = 6
const STREAMS = 4
const PER_STREAM = 16

describe('slot jams', () => {
  let cluster: Cluster
  const extra: Array<{ stop(): Promise<void> | void }> = []
  afterEach(async () => {
    await Promise.allSettled(extra.splice(0).map(async n => n.stop()))
    await cluster?.stop()
  })

  async function bare (): Promise<Libp2p> {
    const node = await bareNode()
    extra.push(node)
    return node
  }

  /**
   * ATTACKERS identities, each with STREAMS paused streams carrying
   * PER_STREAM requests made by `request` (ids from 1). With `stall`, each
   * stream's first four requests ask for that held 256 KiB block instead:
   * their answers fill the stream's window (two are not enough: against the
   * responder without fair serving the StoreChunk jam then passes), and the
   * small answers to the rest queue behind them. The attackers speak DDS themselves and never
   * answer (a victim that asks them anything waits out its deadline).
   * Resolves once the victim has read every request.
   */
  async function jam (victim: Libp2p, request: (id: number) => RequestProps, stall?: CID): Promise<RawStream[]> {
    const attackers = await Promise.all(Array.from({ length: ATTACKERS }, async () => bare()))
    const raws: RawStream[] = []
    for (const attacker of attackers) {
      await attacker.handle(DDS_PROTOCOL, (stream) => { stream.addEventListener('message', () => {}) })
      await learn(attacker, victim)
      for (let s = 0; s < STREAMS; s++) {
        const raw = await RawStream.open(attacker, victim.peerId, { paused: true })
        const frames = encodeFrames(Array.from({ length: PER_STREAM }, (_, i) => {
          const id = s * 100 + i + 1
          return pb.Request.encode(stall != null && i < 4 ? { id, retrieveChunk: { cid: stall.bytes } } : request(id)).finish()
        }))
        expect(raw.push(frames)).toBe(true)
        raws.push(raw)
      }
    }
    await waitFor(() => raws.every(r => r.stream.writeBufferLength === 0), 'the victim to read the requests')
    return raws
  }

  /** An honest node retrieves `cid` from `holder` alone; returns the bytes and every provider failure it saw. */
  async function honestRetrieve (holder: Dds, cid: string): Promise<{ bytes: Uint8Array, failures: string[] }> {
    const honest = await cluster.node({ bootstrap: holder.getMultiaddrs() })
    const failures: string[] = []
    const started = Date.now()
    const bytes = await honest.retrieveBytes(cid, {
      onProgress: (e) => {
        if (e.type === 'dds:retrieve:provider-failed') {
          const detail = e.detail as { error: Error }
          failures.push(`${detail.error.name}: ${detail.error.message}`)
        }
      }
    })
    console.log(`honest retrieval of ${bytes.byteLength} bytes: ${Date.now() - started} ms, ${failures.length} provider failures`)
    return { bytes, failures }
  }

  it('RetrieveChunks for a held chunk, never read, do not keep an honest node from retrieving 4 MiB', async () => {
    cluster = new Cluster()
    const holder = await cluster.node()
    const data = pseudoRandomBytes(16 * 262144, 5)
    const cid = await holder.publish(data)
    const chunk = chunkCid(data, 0)
    const raws = await jam(holder.libp2p, id => ({ id, retrieveChunk: { cid: chunk.bytes } }))

    const { bytes, failures } = await honestRetrieve(holder, cid)
    expect(failures).toEqual([])
    expect(equalBytes(bytes, data)).toBe(true)
    for (const raw of raws) raw.abort()
  }, 120_000)

  it('ReplicationInstructions for random CIDs, never read, do not keep an honest node from retrieving', async () => {
    cluster = new Cluster()
    // the holder's own deadlines: each instruction waits on the attackers, who never answer, for seconds
    const holder = await cluster.node({ retrieval: { providerTimeoutMs: 30_000, blockTimeoutMs: 20_000 } })
    const data = pseudoRandomBytes(8 * 262144, 6)
    const cid = await holder.publish(data)
    const raws = await jam(holder.libp2p, id => ({ id, replicate: { cid: cidForBlock(randomBytes(32)).bytes } }), chunkCid(data, 0))

    const { bytes, failures } = await honestRetrieve(holder, cid)
    expect(failures).toEqual([])
    expect(equalBytes(bytes, data)).toBe(true)
    for (const raw of raws) raw.abort()
  }, 120_000)

  it('tiny StoreChunks, never read, do not keep an honest node from retrieving', async () => {
    cluster = new Cluster()
    const holder = await cluster.node({ network: { storePolicy: 'any' } })
    const data = pseudoRandomBytes(8 * 262144, 7)
    const cid = await holder.publish(data)
    const raws = await jam(holder.libp2p, id => {
      const block = randomBytes(16)
      return { id, storeChunk: { cid: cidForBlock(block).bytes, data: block } }
    }, chunkCid(data, 0))

    const { bytes, failures } = await honestRetrieve(holder, cid)
    expect(failures).toEqual([])
    expect(equalBytes(bytes, data)).toBe(true)
    for (const raw of raws) raw.abort()
  }, 120_000)

  it('with no address budget, the slots of streams whose answers are not read go to a new peer', async () => {
    cluster = new Cluster()
    // every peer on one address may take every slot: only backpressure frees them
    const holder = await cluster.node({ network: { maxRequestsPerPrefix: 256 } })
    const data = pseudoRandomBytes(16 * 262144, 8)
    const cid = await holder.publish(data)
    const chunk = chunkCid(data, 0)
    const raws = await jam(holder.libp2p, id => ({ id, retrieveChunk: { cid: chunk.bytes } }))

    const { bytes, failures } = await honestRetrieve(holder, cid)
    expect(failures).toEqual([])
    expect(equalBytes(bytes, data)).toBe(true)
    // the slots came from streams that were not read: some of them were reset
    expect(raws.some(r => r.reset)).toBe(true)
    for (const raw of raws) raw.abort()
  }, 120_000)

  it('BUSY carries a retry-after that reaches the requester as a BusyError', async () => {
    cluster = new Cluster()
    let holding = false
    const target: ServiceNode = await serviceNode({ maxRequestsPerPeer: 1, onReplicate: async () => { holding = true; return new Promise(() => {}) } })
    extra.push(target)
    const block = randomBytes(1000)
    const blockCid = cidForBlock(block)
    await target.storage.put(blockCid, block)
    const asker: ServiceNode = await serviceNode()
    extra.push(asker)
    await learn(asker.libp2p, target.libp2p)
    // the first request holds the peer's only slot; the second is answered BUSY
    const held = asker.network.replicate(target.peerId, blockCid, [], { timeoutMs: 30_000 }).catch(() => {})
    await waitFor(() => holding, 'the replication instruction to hold the slot')
    await waitFor(async () => {
      try {
        await asker.network.retrieveBlock(target.peerId, blockCid, { timeoutMs: 10_000 })
        return false
      } catch (err) {
        if (!(err instanceof BusyError)) throw err
        expect(err.name).toBe('BusyError')
        expect(err.retryAfterMs).toBeGreaterThan(0)
        return true
      }
    }, 'a BusyError')
    // a raw look at the wire: the BUSY answer has the field
    const raw = await RawStream.open(asker.libp2p, target.peerId)
    // the peer's only slot is still held: this one is BUSY
    expect(await raw.writeRequests([{ id: 2, retrieveChunk: { cid: blockCid.bytes } }])).toBe(true)
    const [busy] = await raw.waitForResponses(1)
    expect(busy!.retrieveChunk?.status).toBe(Status.BUSY)
    expect(busy!.retryAfterMs).toBeGreaterThan(0)
    raw.abort()
    void held
  }, 60_000)

  it('two retrievers of a node that answers one request at a time both succeed', async () => {
    cluster = new Cluster()
    const holder = await cluster.node({ network: { maxConcurrentRequests: 1 } })
    const data = pseudoRandomBytes(8 * 262144, 9)
    const cid = await holder.publish(data)
    const [a, b] = await Promise.all([honestRetrieve(holder, cid), honestRetrieve(holder, cid)])
    expect(a.failures).toEqual([])
    expect(b.failures).toEqual([])
    expect(equalBytes(a.bytes, data)).toBe(true)
    expect(equalBytes(b.bytes, data)).toBe(true)
  }, 120_000)
})
