/**
 * A ban holds at the connection level: a peer that sent bytes that do not
 * match their CID is disconnected, cannot connect again either way while the
 * ban lasts, and connects normally once it has ended. Real nodes over TCP on
 * 127.0.0.1; the liar is a DDS node whose store holds wrong bytes under a
 * block's CID (stores do not verify).
 */
import { describe, it, expect, afterEach } from 'vitest'
import { peerIdFromString } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import type { Dds } from '../../src/index.js'
import { Cluster } from '../utils/cluster.js'
import { waitFor } from '../utils/wait.js'
import { chunkCid, chunkOf, corrupt, equalBytes, pseudoRandomBytes } from '../utils/content.js'

/** A ban that outlasts any test. */
const LONG_BAN_MS = 10 * 60 * 1000

/** A ban a test can wait out by polling; nothing is asserted while it lasts. */
const SHORT_BAN_MS = 1_500

const data = pseudoRandomBytes(2 * 262144, 41)
const lie = chunkCid(data, 0)
const truth = chunkCid(data, 1)

/** Gives `liar` wrong bytes under `lie` and a right block under `truth`, then has `victim` catch it; returns the liar's id. */
async function getBanned (victim: Dds, liar: Dds): Promise<PeerId> {
  await liar.storage.put(lie, corrupt(chunkOf(data, 0)))
  await liar.storage.put(truth, chunkOf(data, 1))
  const id = peerIdFromString(liar.peerId)
  await expect(victim.network.retrieveBlock(id, lie)).rejects.toMatchObject({ name: 'IntegrityError' })
  expect(victim.network.isBanned(id)).toBe(true)
  return id
}

function connected (a: Dds, b: Dds): boolean {
  return a.libp2p.getConnections(b.libp2p.peerId).length > 0
}

async function waitDisconnected (a: Dds, b: Dds): Promise<void> {
  await waitFor(() => !connected(a, b) && !connected(b, a), `${a.peerId} and ${b.peerId} to be disconnected`)
}

/** Counts the connections from `peer` that `node`'s libp2p let open from now on. */
function countOpened (node: Dds, peer: PeerId): { count: number } {
  const opened = { count: 0 }
  node.libp2p.addEventListener('connection:open', (event) => {
    if (event.detail.remotePeer.equals(peer)) {
      opened.count++
    }
  })
  return opened
}

/**
 * `from` dials `to` and gets nothing out of it. With Noise the dialer
 * finishes its handshake one message before the listener learns who is
 * calling, so the dial may resolve; the connection it yields is dead by then
 * or dies at once.
 */
async function dialIsDropped (from: Dds, to: Dds): Promise<void> {
  const connection = await from.libp2p.dial(to.libp2p.peerId, { signal: AbortSignal.timeout(10_000) }).catch(() => undefined)
  if (connection != null) {
    await waitFor(() => connection.status !== 'open', 'the refused connection to close')
  }
  await waitDisconnected(from, to)
}

/**
 * Gets `liar` banned by `victim` and checks it is shut out: disconnected,
 * its dial dropped by the victim's gater once Noise has named it (before
 * libp2p makes a connection of it), and not dialled by the victim (no
 * address is even tried). Returns the count of connections opened to it
 * since it was disconnected, to check again later.
 */
async function expectShutOut (victim: Dds, liar: Dds): Promise<{ liarId: PeerId, opened: { count: number } }> {
  const liarId = await getBanned(victim, liar)
  await waitDisconnected(victim, liar)
  const opened = countOpened(victim, liarId)
  await dialIsDropped(liar, victim)
  expect(opened.count).toBe(0)
  await expect(victim.libp2p.dial(liarId)).rejects.toMatchObject({ name: 'DialDeniedError' })
  return { liarId, opened }
}

describe('bans at the connection level', () => {
  const cluster = new Cluster()
  afterEach(async () => { await cluster.stop() })

  /** Two connected nodes with this ban duration: the victim (the hub) and the one that will lie to it. */
  async function pair (banDurationMs: number): Promise<{ victim: Dds, liar: Dds }> {
    const [victim, liar] = await cluster.network(2, { network: { banDurationMs } })
    if (victim == null || liar == null) {
      throw new Error('the cluster did not start two nodes')
    }
    return { victim, liar }
  }

  it('disconnects a banned peer and refuses its dials and ours while the ban lasts', async () => {
    const { victim, liar } = await pair(LONG_BAN_MS)
    expect(connected(victim, liar)).toBe(true)
    const { liarId, opened } = await expectShutOut(victim, liar)
    // and the victim's requests to it fail instead of reconnecting
    await expect(victim.network.retrieveBlock(liarId, truth)).rejects.toMatchObject({ name: 'RemoteError' })
    // the liar cannot get an answer from the victim either
    await expect(liar.network.retrieveBlock(victim.libp2p.peerId, truth)).rejects.toThrow()

    expect(opened.count).toBe(0)
    expect(connected(victim, liar)).toBe(false)
    expect(connected(liar, victim)).toBe(false)
    expect(victim.network.isBanned(liarId)).toBe(true)
  })

  it('lets the peer connect again, both ways, once the ban has ended', async () => {
    const { victim, liar } = await pair(SHORT_BAN_MS)
    const liarId = await getBanned(victim, liar)
    await waitDisconnected(victim, liar)

    await waitFor(() => !victim.network.isBanned(liarId), 'the ban to end')

    await liar.libp2p.dial(victim.libp2p.peerId, { signal: AbortSignal.timeout(10_000) })
    await waitFor(() => connected(victim, liar), 'the victim to accept the connection')
    await liar.libp2p.hangUp(victim.libp2p.peerId)
    await waitDisconnected(victim, liar)
    // the victim dials it itself for a request, and gets a right block
    expect(equalBytes(await victim.network.retrieveBlock(liarId, truth), chunkOf(data, 1))).toBe(true)
    expect(connected(victim, liar)).toBe(true)
  })

  it('on a libp2p node given to Dds.create, closes a banned peer\'s connections as they open', async () => {
    // no gater asks the service: the connection is made, then closed
    const victim = await cluster.node({ libp2p: await cluster.libp2p(), network: { banDurationMs: LONG_BAN_MS } })
    const liar = await cluster.node({ bootstrap: victim.getMultiaddrs() })
    await waitFor(() => connected(victim, liar), 'the liar to connect')
    const liarId = await getBanned(victim, liar)
    await waitDisconnected(victim, liar)
    const opened = countOpened(victim, liarId)

    await dialIsDropped(liar, victim)
    // libp2p let it open (nothing refused the handshake), and it was closed at once
    expect(opened.count).toBeGreaterThanOrEqual(1)
    await expect(liar.network.retrieveBlock(victim.libp2p.peerId, truth)).rejects.toThrow()
    await waitDisconnected(victim, liar)
  })

  it('on a node made by createDdsLibp2p with isBanned bound to the service, refuses the banned peer\'s dials', async () => {
    let node: Dds | undefined
    const libp2p = await cluster.libp2p({ isBanned: (peer) => node?.network.isBanned(peer) ?? false })
    const victim = node = await cluster.node({ libp2p, network: { banDurationMs: LONG_BAN_MS } })
    const liar = await cluster.node({ bootstrap: victim.getMultiaddrs() })
    await waitFor(() => connected(victim, liar), 'the liar to connect')
    await expectShutOut(victim, liar)
  })
})
