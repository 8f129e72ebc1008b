/**
 * Relayed connections on 127.0.0.1: a node with no address of its own
 * listens through a relay server, answers small requests (manifests,
 * catalog pages) over relayed connections, and moves chunks only over
 * direct ones: a retriever upgrades to a direct connection when the peer
 * has a dialable address, and fails with NoDirectPathError, not a hang,
 * when it has none.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { CHUNK_SIZE, NoDirectPathError, cidForBlock, type Dds } from '../../src/index.js'
import { parseCid } from '../../src/cid.js'
import { Cluster } from '../utils/cluster.js'
import { waitFor } from '../utils/wait.js'

const relayedAddr = (node: Dds): string | undefined => node.getMultiaddrs().find(a => a.includes('/p2p-circuit'))

describe('relays and relayed connections', () => {
  const cluster = new Cluster()
  afterEach(async () => { await cluster.stop() })

  async function relay (): Promise<Dds> {
    return cluster.node({ relay: { server: true } })
  }

  it('a node with no address of its own listens through a relay; its catalog and manifests cross the relay, its chunks do not', async () => {
    const r = await relay()
    // A listens nowhere and does no hole punching: the relay is its only way in
    const a = await cluster.node({ listen: [], nat: { webrtc: false }, bootstrap: r.getMultiaddrs(), network: { directWaitMs: 1_000 } })
    await waitFor(() => relayedAddr(a) != null, 'A to listen through the relay')
    const circuit = relayedAddr(a)!
    expect(circuit).toContain(`/p2p/${r.peerId}/p2p-circuit/p2p/${a.peerId}`)

    const bytes = randomBytes(3 * CHUNK_SIZE + 5)
    const cid = await a.publish(bytes, { name: 'track.flac' })

    const b = await cluster.node({ bootstrap: r.getMultiaddrs(), network: { directWaitMs: 1_000 } })
    await b.connect(circuit)
    const toA = b.libp2p.getConnections().filter(c => c.remotePeer.toString() === a.peerId)
    expect(toA.length).toBeGreaterThan(0)
    expect(toA.every(c => c.limits != null)).toBe(true)

    // small requests go over the relayed connection
    const page = await b.catalogPage(a.peerId)
    expect(page.entries.map(e => e.cid)).toEqual([cid])
    const stat = await b.stat(cid, { checkLocal: false })
    expect(stat).toMatchObject({ cid, size: bytes.byteLength, name: 'track.flac' })

    // chunks need a direct connection, and there is none to make
    const started = Date.now()
    const err = await b.retrieveBytes(cid).then(() => undefined, (e: Error) => e)
    expect(err).toBeInstanceOf(Error)
    expect(err!.message).toContain('NoDirectPathError')
    expect(err!.message).toContain('only through a relay')
    // bounded: the direct wait (1 s) per try, well under the request deadlines
    expect(Date.now() - started).toBeLessThan(30_000)
    expect(b.stats().chunksFetched).toBe(0)
  })

  it('a retriever that reached a peer through the relay upgrades to a direct connection for the chunks', async () => {
    const r = await relay()
    const a = await cluster.node({ bootstrap: r.getMultiaddrs() })
    // 127.0.0.1 is not a public address: A keeps a reservation as well
    await waitFor(() => relayedAddr(a) != null, 'A to listen through the relay')
    const bytes = randomBytes(4 * CHUNK_SIZE)
    const cid = await a.publish(bytes)

    // no WebRTC on B: the direct connection comes from dialing A's own address
    const b = await cluster.node({ listen: [], nat: { webrtc: false } })
    await b.connect(relayedAddr(a)!)
    expect(b.libp2p.getConnections().filter(c => c.remotePeer.toString() === a.peerId).every(c => c.limits != null)).toBe(true)

    const got = await b.retrieveBytes(cid)
    expect(Buffer.from(got).equals(bytes)).toBe(true)
    const direct = b.libp2p.getConnections().filter(c => c.remotePeer.toString() === a.peerId && c.limits == null)
    expect(direct.length).toBeGreaterThan(0)
    expect(direct[0]!.remoteAddr.toString()).not.toContain('p2p-circuit')
  })

  it('two nodes with no address of their own punch a direct WebRTC connection through the relay and move the chunks over it', async () => {
    const r = await relay()
    const a = await cluster.node({ listen: [], bootstrap: r.getMultiaddrs() })
    await waitFor(() => relayedAddr(a) != null, 'A to listen through the relay')
    // its WebRTC address through the relay is not told (a puncher builds it from the relayed connection)
    expect(a.getMultiaddrs().some(addr => addr.includes('/p2p-circuit/webrtc'))).toBe(false)
    const bytes = randomBytes(8 * CHUNK_SIZE + 9)
    const cid = await a.publish(bytes)

    const b = await cluster.node({ listen: [], bootstrap: r.getMultiaddrs() })
    await b.connect(relayedAddr(a)!)
    const started = Date.now()
    expect(Buffer.from(await b.retrieveBytes(cid)).equals(bytes)).toBe(true)
    const punched = b.libp2p.getConnections().filter(c => c.remotePeer.toString() === a.peerId && c.limits == null)
    expect(punched.length).toBeGreaterThan(0)
    expect(punched[0]!.remoteAddr.toString()).toContain('/webrtc/')
    console.log(`retrieved ${bytes.byteLength} bytes over a punched WebRTC connection in ${Date.now() - started} ms`)
  })

  it('a relayed connection carries no StoreChunk and no chunk answer, whatever the requester asks', async () => {
    const r = await relay()
    const a = await cluster.node({ listen: [], nat: { webrtc: false }, bootstrap: r.getMultiaddrs(), network: { storePolicy: 'any', directWaitMs: 1_000 } })
    await waitFor(() => relayedAddr(a) != null, 'A to listen through the relay')
    const bytes = randomBytes(CHUNK_SIZE)
    const cid = await a.publish(bytes)
    const b = await cluster.node({ listen: [], network: { directWaitMs: 1_000 } })
    await b.connect(relayedAddr(a)!)
    const peer = a.libp2p.peerId
    // a manifest (small) is answered over the relay when asked that way...
    const manifest = await b.network.retrieveBlock(peer, parseCid(cid), { relayed: true })
    expect(manifest.byteLength).toBeLessThan(1024)
    // ...a chunk is refused even when asked that way, and so is a push
    const chunk = cidForBlock(bytes)
    await expect(b.network.retrieveBlock(peer, chunk, { relayed: true })).rejects.toThrow(/only over direct connections/)
    await expect(b.network.storeBlock(peer, cidForBlock(randomBytes(100)), randomBytes(100), { relayed: true })).rejects.toThrow(/only over direct connections/)
    // asked plainly, the chunk waits for a direct connection and gives up
    await expect(b.network.retrieveBlock(peer, chunk)).rejects.toBeInstanceOf(NoDirectPathError)
  })
})
