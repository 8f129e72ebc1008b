import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { quic } from '@chainsafe/libp2p-quic'
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { dcutr } from '@libp2p/dcutr'
import { uPnPNAT } from '@libp2p/upnp-nat'
import { autoNATv2 } from '@libp2p/autonat-v2'
import { webRTC } from '@libp2p/webrtc'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify, type Identify } from '@libp2p/identify'
import { ping, type Ping } from '@libp2p/ping'
import type { KadDHT } from '@libp2p/kad-dht'
import type { ConnectionGater, PeerId, PrivateKey } from '@libp2p/interface'
import { ddsDht, dhtServesWhenDialable, type DdsDhtInit } from '../discovery/dht.js'
import { numberOption } from '../options.js'
import { InvalidInputError } from '../errors.js'
import { isPublicAddress, relayKeeper, type RelayKeeper } from './relay-keeper.js'
import { stunServer, stunUrlsFrom } from './stun.js'
import {
  DEFAULT_ALLOW, DEFAULT_CONNECTION_PING_INTERVAL_MS, DEFAULT_LISTEN, DEFAULT_MAX_CONNECTIONS, DEFAULT_RELAY_DATA_LIMIT,
  DEFAULT_RELAY_DURATION_LIMIT_MS, DEFAULT_RELAY_MAX_RESERVATIONS
} from './constants.js'

/** The services a DDS libp2p node carries. */
export interface DdsLibp2pServices {
  identify: Identify
  ping: Ping
  dht: KadDHT
  [key: string]: unknown
}

/** A libp2p node with the services DDS needs. */
export type DdsLibp2p = Libp2p<DdsLibp2pServices>

export interface DdsLibp2pInit {
  /**
   * Multiaddrs to listen on: `/tcp/N`, `/tcp/N/ws` or `/udp/N/quic-v1`.
   *
   * @default ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/udp/0/quic-v1']
   */
  listen?: string[]

  /** The node's identity; a new Ed25519 key when omitted. */
  privateKey?: PrivateKey

  /**
   * Addresses this node tells other peers instead of the ones it listens on:
   * the public address of a port forward, a `/dns4/<name>/tcp/<port>` name, a
   * container's published port. A node that announces addresses counts as
   * publicly reachable and makes no relay reservation.
   *
   * @default [] (the listen addresses, and a port UPnP mapped)
   */
  announce?: string[]

  /**
   * NAT traversal: AutoNAT v2 (peers dial this node back to confirm its
   * addresses), a reservation on a relay when the node is not publicly
   * reachable (no public address of its own, none announced, no port UPnP
   * mapped; bootstrap peers first), hole punching (WebRTC through the
   * relay, and DCUtR) and, when a listen address is not loopback, UPnP port
   * mapping on the home router. `false` turns all of it
   * off (the node still dials relayed addresses); `{ upnp: false }` keeps
   * the rest.
   *
   * @default true
   */
  nat?: boolean | NatInit

  /** Serving circuit relay v2 reservations for other nodes (a public node). */
  relay?: RelayInit

  /**
   * Multiaddrs of the bootstrap peers (with `/p2p/<id>`): tried first as
   * relays, and asked for STUN (at their TCP port number over UDP) unless
   * `nat.stun` names other servers.
   */
  bootstrap?: string[]

  /** Options of the DDS DHT. */
  dht?: DdsDhtInit

  /**
   * IP ranges (multiaddr prefixes) whose peers bypass the per-IP inbound
   * connection rate limit, e.g. `/ip4/127.0.0.1` when many nodes run on one
   * machine.
   *
   * @default ['/ip4/127.0.0.1']
   */
  allow?: string[]

  /**
   * Maximum number of open connections.
   *
   * @default 300
   */
  maxConnections?: number

  /**
   * Peers this node neither dials nor accepts connections from while it
   * returns true: pass the bans of the DDS service that will run on the node,
   * e.g. `peer => dds?.network.isBanned(peer) ?? false` (it is asked only when
   * a connection is made, so it may be bound once the service exists). A
   * node `Dds.create` makes gets this wired in.
   */
  isBanned?: (peer: PeerId) => boolean
}

/** Parts of NAT traversal a node may turn off one by one. */
export interface NatInit {
  /** UPnP port mapping on the home router. @default true when a listen address is not loopback */
  upnp?: boolean
  /**
   * STUN servers (`stun:<host>:<port>`) WebRTC asks for this node's public
   * address when it punches a direct connection to a peer behind another
   * NAT. No other server is ever asked.
   *
   * @default one per bootstrap peer, at its TCP port number over UDP (relay servers answer STUN there)
   */
  stun?: string[]
  /** Hole punching with WebRTC through a relayed connection. @default true */
  webrtc?: boolean
}

/** A relay server's options: it serves reservations for nodes that are not publicly reachable. */
export interface RelayInit {
  /**
   * Serve reservations, and answer STUN on UDP at the port number of each
   * TCP listen address. @default false
   */
  server?: boolean
  /** Reservations held at once. @default 128 */
  maxReservations?: number
  /** How long one relayed connection may last, in ms. @default 120000 */
  durationLimitMs?: number
  /** Bytes one relayed connection may carry in each direction. @default 131072 */
  dataLimit?: number
}

/**
 * A connection gater that keeps out the peers `isBanned` names: dials to them
 * fail before any address is tried, and a connection either way is dropped
 * once the encryption handshake has proved who is on the other end (the
 * first point an inbound peer's identity is known), or after the muxer is
 * set up if the ban landed in between.
 */
export function banGater (isBanned: (peer: PeerId) => boolean): ConnectionGater {
  // the hooks get the connection too; `isBanned` is given the peer alone
  const deny = (peer: PeerId): boolean => isBanned(peer)
  return {
    denyDialPeer: deny,
    denyInboundEncryptedConnection: deny,
    denyOutboundEncryptedConnection: deny,
    denyInboundUpgradedConnection: deny,
    denyOutboundUpgradedConnection: deny
  }
}

/**
 * Creates (and starts) the libp2p node DDS runs on when the caller gives none:
 * TCP (Noise, Yamux), QUIC, WebSockets and circuit relay, identify, ping
 * and the DDS DHT, with a connection gater
 * that refuses the peers `isBanned` names.
 *
 * @throws {InvalidInputError} when `maxConnections` or a DHT option is not a whole number of at least 1
 */
export async function createDdsLibp2p (init: DdsLibp2pInit = {}): Promise<DdsLibp2p> {
  const listen = init.listen ?? DEFAULT_LISTEN
  const announce = addressList('announce', init.announce ?? [])
  addressList('listen', listen)
  const nat = init.nat ?? true
  const natOn = nat !== false
  const natInit: NatInit = typeof nat === 'object' ? nat : {}
  const upnp = natOn && (natInit.upnp ?? listen.some(a => !isLoopbackListen(a)))
  const webrtc = natOn && natInit.webrtc !== false
  const bootstrap = init.bootstrap ?? []
  const stun = stunUrls(natInit.stun ?? stunUrlsFrom(bootstrap))
  const relay = init.relay ?? {}
  // A node with a public bootstrap peer is on the internet: it serves the
  // DHT once it knows others can dial it (a public address of its own, one
  // it announces or one confirmed from outside), and is a client until then
  // and while it is behind a NAT. On a LAN or loopback every node serves.
  const onInternet = natOn && init.dht?.clientMode == null && bootstrap.some(b => { try { return isPublicAddress(multiaddr(b)) } catch { return false } })
  const relayServer = relay.server === true
    ? {
        relay: circuitRelayServer({
          reservations: {
            maxReservations: numberOption('relay.maxReservations', relay.maxReservations, DEFAULT_RELAY_MAX_RESERVATIONS),
            defaultDurationLimit: numberOption('relay.durationLimitMs', relay.durationLimitMs, DEFAULT_RELAY_DURATION_LIMIT_MS),
            defaultDataLimit: BigInt(numberOption('relay.dataLimit', relay.dataLimit, DEFAULT_RELAY_DATA_LIMIT))
          }
        }),
        stun: stunServer()
      }
    : {}
  const natServices = natOn
    ? {
        // AutoNAT v2: it dials back on a new connection (v1 closes the
        // requester's own connection when it finds one open already)
        autonat: autoNATv2(),
        dcutr: dcutr(),
        relayKeeper: relayKeeper({ preferred: bootstrap.map(peerIdOf).filter((id): id is string => id != null), announcing: announce.length > 0 }),
        ...(upnp ? { upnp: uPnPNAT() } : {})
      }
    : {}
  const node = await createLibp2p({
    ...(init.privateKey != null ? { privateKey: init.privateKey } : {}),
    // '/webrtc' yields an address once the node listens through a relay
    addresses: {
      listen: webrtc ? [...listen, '/webrtc'] : listen,
      ...(announce.length > 0 ? { announce } : {}),
      announceFilter: withoutWebRtcCircuits
    },
    // every node dials relayed addresses; only NAT traversal makes it listen through a relay
    transports: [
      tcp(), quic(), webSockets(), circuitRelayTransport(),
      ...(webrtc ? [webRTC({ rtcConfiguration: { iceServers: stun.length > 0 ? [{ urls: stun }] : [] } })] : [])
    ],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    ...(init.isBanned != null ? { connectionGater: banGater(init.isBanned) } : {}),
    // pings every connection once a minute rather than libp2p's every 10 s
    // (see DEFAULT_CONNECTION_PING_INTERVAL_MS)
    connectionMonitor: { pingInterval: DEFAULT_CONNECTION_PING_INTERVAL_MS },
    connectionManager: {
      allow: init.allow ?? [...DEFAULT_ALLOW],
      maxConnections: numberOption('maxConnections', init.maxConnections, DEFAULT_MAX_CONNECTIONS)
    },
    services: {
      identify: identify(),
      ping: ping(),
      dht: ddsDht({ ...init.dht, clientMode: init.dht?.clientMode ?? onInternet }),
      ...relayServer,
      ...natServices
    }
  })
  // libp2p writes the node's own addresses to its peer store a second after
  // it starts listening. kad-dht names no provider whose addresses it does
  // not know, so until then this node would leave itself out of its answers
  // for the blocks it holds (a peer that joins at once would not find it).
  const self = `/p2p/${node.peerId.toString()}`
  await node.peerStore.patch(node.peerId, { multiaddrs: node.getMultiaddrs().map(ma => ma.toString().endsWith(self) ? ma.decapsulate(self) : ma) })
    .catch((err: unknown) => {
      // libp2p's own update follows a second later
      node.logger.forComponent('dds:network').error('could not record this node\'s addresses - %e', err)
    })
  if (onInternet) {
    // the listener goes with the node: nothing else holds it
    const keeper = (node.services as { relayKeeper?: RelayKeeper }).relayKeeper
    dhtServesWhenDialable(node, () => keeper?.reachable() === true, node.logger.forComponent('dds:dht'))
  }
  return node
}

/**
 * Leaves out the `<relay>/p2p-circuit/webrtc` addresses listening on
 * `/webrtc` adds. A peer that punches a hole builds that address itself from
 * the relayed connection it holds, so telling it costs nothing; told, it
 * reaches DCUtR's direct upgrade without this node's id at its end (a peer
 * store keeps addresses so), the relay's id is the last one in it, and the
 * upgrade dials the relay, takes that connection for this node's and closes
 * the relayed connection it was meant to upgrade.
 */
function withoutWebRtcCircuits (addrs: Multiaddr[]): Multiaddr[] {
  return addrs.filter(ma => !ma.toString().includes('/p2p-circuit/webrtc'))
}

/** The peer id of a `/p2p/<id>` multiaddr. */
function peerIdOf (addr: string): string | undefined {
  return /\/p2p\/([^/]+)$/.exec(addr)?.[1]
}

/** Checks that every entry of `nat.stun` is a `stun:` URL; returns the list. */
function stunUrls (urls: string[]): string[] {
  if (!Array.isArray(urls) || urls.some(u => typeof u !== 'string' || !/^stuns?:[^\s/]+$/.test(u))) {
    throw new InvalidInputError('nat.stun must be a list of STUN URLs such as stun:198.51.100.7:4180')
  }
  return urls
}

/** Checks that every entry is a multiaddr; returns the list. */
function addressList (name: string, addrs: string[]): string[] {
  if (!Array.isArray(addrs)) {
    throw new InvalidInputError(`${name} must be a list of multiaddrs`)
  }
  for (const addr of addrs) {
    try {
      multiaddr(addr)
    } catch (err) {
      throw new InvalidInputError(`${name} has an invalid multiaddr "${String(addr)}": ${(err as Error).message}`)
    }
  }
  return addrs
}

/** True for a listen address on a loopback interface, where no router can map a port. */
function isLoopbackListen (addr: string): boolean {
  return /^\/ip4\/127\./.test(addr) || addr.startsWith('/ip6/::1/') || addr.startsWith('/p2p-circuit') || addr === '/webrtc'
}
