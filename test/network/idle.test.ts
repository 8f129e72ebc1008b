import { describe, it, expect, afterEach } from 'vitest'
import { multiaddr } from '@multiformats/multiaddr'
import { Dds, DDS_PROTOCOL } from '../../src/index.js'
import { createDdsLibp2p, type DdsLibp2p } from '../../src/network/libp2p.js'
import { waitFor } from '../utils/libp2p.js'

describe('idle streams', () => {
  let server: Dds | undefined
  let client: DdsLibp2p | undefined
  afterEach(async () => {
    await client?.stop()
    await server?.stop()
  })

  it('the responder drops a stream its requester leaves open and silent', async () => {
    server = await Dds.create({ network: { idleTimeoutMs: 200 }, replication: { factor: 1 } })
    client = await createDdsLibp2p()
    const stream = await client.dialProtocol(multiaddr(server.getMultiaddrs()[0]!), DDS_PROTOCOL)
    expect(stream.status).toBe('open')
    await waitFor(() => stream.status !== 'open', 5_000, 'the idle stream to be dropped')
    // the node still serves a fresh stream
    const cid = await server.publish(new TextEncoder().encode('still here'))
    const reader = await Dds.create({ bootstrap: server.getMultiaddrs(), replication: { factor: 1 } })
    try {
      expect(new TextDecoder().decode(await reader.retrieveBytes(cid))).toBe('still here')
    } finally {
      await reader.stop()
    }
  })
})
