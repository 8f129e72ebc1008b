/**
 * Joining the network: the peer addresses a node is given (bootstrap, seed
 * peers, `connect`), dialling them, and waiting until the DHT knows one.
 *
 * @module
 */

import type { AbortOptions, PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { InvalidInputError, RemoteError, abortReason } from '../errors.js'
import type { Discovery } from '../discovery/index.js'
import type { DdsLibp2p } from '../network/index.js'

export { DEFAULT_BOOTSTRAP_TIMEOUT_MS } from './constants.js'

/** A peer address as given, parsed. */
export interface PeerAddress {
  text: string
  multiaddr: Multiaddr
  peerId: PeerId
}

/**
 * Parses multiaddr strings that end in `/p2p/<peer id>`.
 *
 * @throws {InvalidInputError} naming `option` and the address, for anything else
 */
export function parsePeerAddrs (addrs: string[], option: string): PeerAddress[] {
  if (!Array.isArray(addrs)) {
    throw new InvalidInputError(`${option} must be an array of multiaddr strings`)
  }
  return addrs.map(text => {
    let ma: Multiaddr
    try {
      ma = multiaddr(text)
    } catch (err) {
      throw new InvalidInputError(`${option}: "${String(text)}" is not a multiaddr`, { cause: err })
    }
    const id = ma.getComponents().findLast(c => c.name === 'p2p')?.value
    if (id == null) {
      throw new InvalidInputError(`${option}: "${text}" has no /p2p/<peer id> part; add the peer's id`)
    }
    return { text, multiaddr: ma, peerId: peerIdFromString(id) }
  })
}

/** What joining needs from the node. */
export interface JoinComponents {
  libp2p: Pick<DdsLibp2p, 'dial' | 'services'>
  discovery: Pick<Discovery, 'waitForPeers'>
}

/** Options of {@link join}. */
export interface JoinOptions extends AbortOptions {
  /** Fail when none of the peers can be reached. */
  required: boolean
  /** How long to wait for the dials and for a DHT peer, in ms. */
  timeoutMs: number
}

/**
 * Dials peers and waits until the DHT knows at least one of them.
 *
 * @throws {RemoteError} when `required` and no peer could be reached
 * @throws {AbortError} when the signal aborts
 */
export async function join (components: JoinComponents, peers: PeerAddress[], options: JoinOptions): Promise<void> {
  if (peers.length === 0) {
    return
  }
  const { signal } = options
  const deadline = AbortSignal.timeout(options.timeoutMs)
  const combined = signal != null ? AbortSignal.any([signal, deadline]) : deadline
  const results = await Promise.allSettled(peers.map(async p => components.libp2p.dial(p.multiaddr, { signal: combined })))
  const failures = results.flatMap((r, i) => r.status === 'rejected' ? [`${peers[i]!.text}: ${(r.reason as Error).message}`] : [])
  if (signal?.aborted === true) {
    throw abortReason(signal, 'connect')
  }
  if (failures.length === peers.length && options.required) {
    throw new RemoteError(`could not reach any of the given peers (${failures.join('; ')})`)
  }
  await components.discovery.waitForPeers?.({ signal: combined })
  // starts a refresh in the background (bounded by the same deadline)
  await components.libp2p.services.dht?.refreshRoutingTable({ signal: combined }).catch(() => {})
}

/**
 * The peers a libp2p node is connected to, with the addresses of their
 * connections and whether each goes through a relay (a limited connection,
 * which carries no chunks).
 */
export function connectedPeers (libp2p: Pick<DdsLibp2p, 'getConnections'>): ConnectedPeer[] {
  const byPeer = new Map<string, ConnectedPeer>()
  for (const connection of libp2p.getConnections()) {
    const id = connection.remotePeer.toString()
    const peer = byPeer.get(id) ?? { peer: id, addrs: [], connections: [] }
    const addr = connection.remoteAddr.toString()
    peer.addrs.push(addr)
    peer.connections.push({ addr, relayed: connection.limits != null })
    byPeer.set(id, peer)
  }
  return [...byPeer.values()]
}

/** A connected peer, as `Dds.peers()` lists it. */
export interface ConnectedPeer {
  peer: string
  /** The remote addresses of its connections. */
  addrs: string[]
  /** Each connection: its remote address, and whether it goes through a relay. */
  connections: Array<{ addr: string, relayed: boolean }>
}
