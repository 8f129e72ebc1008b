// Role: a Helia node that imports content with @helia/unixfs into
// blockstore-level and then serves it over Bitswap. `import` is timed from
// the call until addByteStream resolves with the root CID.
//
// Options: { dir, listen? }
// Ops: import { source } -> { cid, ms }
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

serve({ import: importContent }, {
  info: { peerId: node.helia.libp2p.peerId.toString(), multiaddrs: node.helia.libp2p.getMultiaddrs().map(String) },
  stop: () => node.stop()
})
