// The Helia 7 node of the comparison, built light on purpose: createHelia()
// would add delegated routers, public bootstrap peers, autonat, UPnP and
// relays. This one has a LevelDB blockstore (blockstore-level), libp2p with
// the transports DDS uses (TCP, Noise, Yamux, identify) and Bitswap, all at
// their defaults; UnixFS imports use DDS's chunking (256 KiB raw leaves,
// CIDv1, sha2-256) so both sides move the same chunks.
import { createHeliaLight } from 'helia'
import { withLibp2pLight } from '@helia/libp2p'
import { withBitswap } from '@helia/bitswap'
import { unixfs } from '@helia/unixfs'
import { LevelBlockstore } from 'blockstore-level'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { benchLibp2pOptions } from './libp2p.mjs'

/** UnixFS import options matching DDS's chunks. */
export const IMPORT_OPTIONS = {
  chunker: fixedSize({ chunkSize: 262144 }),
  rawLeaves: true,
  cidVersion: 1,
  reduceSingleLeafToSelf: true
}

/** Creates and starts a Helia node whose blocks live in LevelDB at `dir`. */
export async function createBenchHelia ({ dir, listen }) {
  const blockstore = new LevelBlockstore(dir)
  await blockstore.open()
  const helia = withBitswap(withLibp2pLight(createHeliaLight({ blockstore }), benchLibp2pOptions({ listen })))
  await helia.start()
  return {
    helia,
    fs: unixfs(helia),
    async stop () {
      await helia.stop()
      await blockstore.close()
    }
  }
}
