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
    clientMode: false,
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
