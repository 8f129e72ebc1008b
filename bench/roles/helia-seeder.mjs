// Role: a Helia node that imports content with @helia/unixfs into
// blockstore-level and then serves it over Bitswap. `import` is timed from
// the call until addByteStream resolves with the root CID.
//
// Options: { dir, listen? }
// Ops: import { source } -> { cid, ms }; connect { addrs } dials other seeders
import { multiaddr } from '@multiformats/multiaddr'
import { createBenchHelia, IMPORT_OPTIONS } from '../lib/helia.mjs'
import { openContent } from '../lib/content.mjs'
import { roleOptions, serve } from '../lib/role.mjs'

const options = roleOptions()
const node = await createBenchHelia(options)

async function importContent ({ source }) {
  const started = performance.now()
  const cid = await node.fs.addByteStream(openContent(source), IMPORT_OPTIONS)
  return { cid: cid.toString(), ms: performance.now() - started }
}

async function connect ({ addrs }) {
  await Promise.all(addrs.map(async addr => node.helia.libp2p.dial(multiaddr(addr))))
  return {}
}

serve({ import: importContent, connect }, {
  info: { peerId: node.helia.libp2p.peerId.toString(), multiaddrs: node.helia.libp2p.getMultiaddrs().map(String) },
  stop: () => node.stop()
})
