// The libp2p node of the non-DDS roles (raw stream, Helia): the same
// transports DDS runs on (TCP, Noise, Yamux) with identify, each option left
// at its default, and nothing that reaches beyond the addresses given.
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'

export const LOOPBACK_LISTEN = ['/ip4/127.0.0.1/tcp/0']

/** libp2p options for TCP + Noise + Yamux + identify, listening on `listen`. */
export function benchLibp2pOptions ({ listen = LOOPBACK_LISTEN, services = {} } = {}) {
  return {
    addresses: { listen },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { allow: ['/ip4/127.0.0.1'] },
    services: { identify: identify(), ...services }
  }
}

/** Creates and starts such a node. */
export async function createBenchLibp2p (init) {
  return createLibp2p(benchLibp2pOptions(init))
}
