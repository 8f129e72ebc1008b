// Role: a fresh DDS node (memory store) that joins the given seeders and
// serves the HTTP gateway on 127.0.0.1; the orchestrator fetches content
// through it with curl. Reports the process's peak RSS on request.
//
// Options: { bootstrap: ['<multiaddr>/p2p/<id>'] }
// Info: { url }
// Ops: rss -> { peakRssBytes }
import { Dds, startGateway } from '@digisocialblock/dds'
import { peakRssBytes, roleOptions, serve } from '../lib/role.mjs'

const options = roleOptions()
const node = await Dds.create({ storage: 'memory', bootstrap: options.bootstrap, replication: { factor: 1, accept: 'none' } })
const gateway = await startGateway(node, { host: '127.0.0.1', port: 0 })

serve({
  rss: async () => ({ peakRssBytes: peakRssBytes() })
}, {
  info: { url: gateway.url },
  stop: async () => {
    await gateway.close()
    await node.stop()
  }
})
