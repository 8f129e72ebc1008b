import { describe, it, expect, afterEach } from 'vitest'
import { multiaddr } from '@multiformats/multiaddr'
import { DDS_PROTOCOL } from '../../src/index.js'
import { Cluster } from '../utils/cluster.js'
import { waitFor } from '../utils/wait.js'

describe('idle streams', () => {
  const cluster = new Cluster()
  afterEach(async () => { await cluster.stop() })

  it('the responder drops a stream its requester leaves open and silent', async () => {
    const server = await cluster.node({ network: { idleTimeoutMs: 200 } })
    const client = await cluster.libp2p()
    const stream = await client.dialProtocol(multiaddr(server.getMultiaddrs()[0]!), DDS_PROTOCOL)
    expect(stream.status).toBe('open')
    await waitFor(() => stream.status !== 'open', 'the idle stream to be dropped')
    // the node still serves a fresh stream
    const cid = await server.publish(new TextEncoder().encode('still here'))
    const reader = await cluster.node({ bootstrap: server.getMultiaddrs() })
    expect(new TextDecoder().decode(await reader.retrieveBytes(cid))).toBe('still here')
  })
})
