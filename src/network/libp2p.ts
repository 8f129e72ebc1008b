import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify, type Identify } from '@libp2p/identify'
import { ping, type Ping } from '@libp2p/ping'
import type { KadDHT } from '@libp2p/kad-dht'
import type { PrivateKey } from '@libp2p/interface'
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
}

/**
 * Creates (and starts) the libp2p node DDS runs on when the caller gives none:
 * TCP, Noise, Yamux, identify, ping and the DDS DHT.
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
