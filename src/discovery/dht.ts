import type { Libp2p, Logger } from '@libp2p/interface'
import { kadDHT, passthroughMapper, removePublicAddressesMapper, type KadDHT, type KadDHTComponents } from '@libp2p/kad-dht'
import {
  DDS_KAD_PROTOCOL,
  DEFAULT_DHT_MAX_STREAMS,
  DEFAULT_PROVIDE_VALIDITY_MS,
  DEFAULT_REPROVIDE_CONCURRENCY,
  DEFAULT_REPROVIDE_INTERVAL_MS,
  DEFAULT_REPROVIDE_THRESHOLD_MS
} from './constants.js'
import { numberOption } from '../options.js'

export interface DdsDhtInit {
  /**
   * Protocol id of the DHT. Every node of one network must use the same.
   *
   * @default '/digisocialblock/dds/kad/1.0.0'
   */
  protocol?: string

  /**
   * Keep every address of DHT peers (public ones, `/dns4` and `/dns6` names
   * included), or only private and loopback ones (a network that must never
   * leave a LAN).
   *
   * @default 'all'
   */
  addresses?: 'private' | 'all'

  /**
   * Streams per connection the DHT protocol may open or accept (a whole
   * number of at least 1).
   *
   * @default 256
   */
  maxStreams?: number

  /**
   * Start as a DHT client: the node asks the DHT but serves nobody. Given,
   * it is kept. Left out, `ddsDht` serves, and `createDdsLibp2p` starts a
   * node that has a public bootstrap peer as a client, serving once it knows
   * others can dial it (see `dhtServesWhenDialable`). A node logs its mode
   * at start (`DHT mode`).
   *
   * @default false
   */
  clientMode?: boolean
}

/**
 * The libp2p service factory of the DDS DHT: kad-dht in server mode under the
 * DDS protocol id, with the re-announcement settings every DDS node shares.
 *
 * @throws {InvalidInputError} when `maxStreams` is not a whole number of at least 1
 */
export function ddsDht (init: DdsDhtInit = {}): (components: KadDHTComponents) => KadDHT {
  const maxStreams = numberOption('maxStreams', init.maxStreams, DEFAULT_DHT_MAX_STREAMS)
  return kadDHT({
    protocol: init.protocol ?? DDS_KAD_PROTOCOL,
    clientMode: init.clientMode === true,
    peerInfoMapper: (init.addresses ?? 'all') === 'private' ? removePublicAddressesMapper : passthroughMapper,
    maxInboundStreams: maxStreams,
    maxOutboundStreams: maxStreams,
    reprovide: {
      threshold: DEFAULT_REPROVIDE_THRESHOLD_MS,
      interval: DEFAULT_REPROVIDE_INTERVAL_MS,
      concurrency: DEFAULT_REPROVIDE_CONCURRENCY,
      validity: DEFAULT_PROVIDE_VALIDITY_MS
    }
  })
}

/**
 * Serves the DHT only while other peers can dial this node (`reachable`,
 * asked at each change of its addresses): a node behind a NAT is a DHT
 * client. A DHT server behind a NAT harms the others: lookups send them to
 * it, and each waits for a dial (or a hole punch) that cannot succeed; a new
 * node's first lookup stalled for the 5 s of kad-dht's self-query. kad-dht
 * never drops a peer from its routing table for leaving server mode, so such
 * a node starts as a client (`DdsDhtInit.clientMode`) rather than switching
 * later. Returns what stops following.
 */
export function dhtServesWhenDialable (libp2p: Pick<Libp2p<{ dht: KadDHT }>, 'services' | 'status' | 'addEventListener' | 'removeEventListener'>, reachable: () => boolean, log?: Logger): () => void {
  const follow = (): void => {
    const mode = reachable() ? 'server' : 'client'
    const dht = libp2p.services.dht
    if (libp2p.status !== 'started' || dht.getMode() === mode) {
      return
    }
    log?.('DHT %s mode: this node is %s', mode, mode === 'server' ? 'reachable' : 'not reachable from outside')
    dht.setMode(mode).catch((err: Error) => { log?.error('could not switch the DHT to %s mode: %s', mode, err.message) })
  }
  libp2p.addEventListener('self:peer:update', follow)
  follow()
  return () => { libp2p.removeEventListener('self:peer:update', follow) }
}
