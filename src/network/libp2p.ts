import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify, type Identify } from '@libp2p/identify'
import { ping, type Ping } from '@libp2p/ping'
import type { KadDHT } from '@libp2p/kad-dht'
import type { ConnectionGater, PeerId, PrivateKey } from '@libp2p/interface'
import { ddsDht, type DdsDhtInit } from '../discovery/dht.js'
import { numberOption } from '../options.js'
import { DEFAULT_ALLOW, DEFAULT_LISTEN, DEFAULT_MAX_CONNECTIONS } from './constants.js'

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
   * Multiaddrs to listen on.
   *
   * @default ['/ip4/127.0.0.1/tcp/0']
   */
  listen?: string[]

  /** The node's identity; a new Ed25519 key when omitted. */
  privateKey?: PrivateKey

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
 * TCP, Noise, Yamux, identify, ping and the DDS DHT, with a connection gater
 * that refuses the peers `isBanned` names.
 *
 * @throws {InvalidInputError} when `maxConnections` or a DHT option is not a whole number of at least 1
 */
export async function createDdsLibp2p (init: DdsLibp2pInit = {}): Promise<DdsLibp2p> {
  return createLibp2p({
    ...(init.privateKey != null ? { privateKey: init.privateKey } : {}),
    addresses: { listen: init.listen ?? DEFAULT_LISTEN },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    ...(init.isBanned != null ? { connectionGater: banGater(init.isBanned) } : {}),
    connectionManager: {
      allow: init.allow ?? [...DEFAULT_ALLOW],
      maxConnections: numberOption('maxConnections', init.maxConnections, DEFAULT_MAX_CONNECTIONS)
    },
    services: {
      identify: identify(),
      ping: ping(),
      dht: ddsDht(init.dht)
    }
  })
}
