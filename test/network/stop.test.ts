/**
 * Stopping a DDS node that runs on a libp2p node its caller created (and
 * keeps running): every inbound DDS stream is closed and the protocol is no
 * longer handled.
 */
import { describe, it, expect, afterEach } from 'vitest'
import type { Libp2p } from 'libp2p'
import { DDS_PROTOCOL } from '../../src/index.js'
import { parseCid } from '../../src/cid.js'
import { Status } from '../../src/pb/index.js'
import { RawStream, bareNode, idOf, learn, statusOf } from './harness.js'
import { Cluster } from '../utils/cluster.js'
import { WAIT_MS, waitFor } from '../utils/wait.js'

describe('stopping the network service', () => {
  const cluster = new Cluster()
  let client: Libp2p | undefined
  afterEach(async () => {
    await client?.stop()
    await cluster.stop()
  })

  it('closes inbound streams and unregisters the protocol when the libp2p node lives on', async () => {
    const libp2p = await cluster.libp2p()
    const dds = await cluster.node({ libp2p, storage: 'memory', announce: 'none' })
    const cid = await dds.publish(new TextEncoder().encode('served until stop'), { signal: AbortSignal.timeout(WAIT_MS) })
    client = await bareNode()
    await learn(client, libp2p)

    const raw = await RawStream.open(client, libp2p.peerId)
    expect(await raw.writeRequests([{ id: 1, retrieveChunk: { cid: parseCid(cid).bytes } }])).toBe(true)
    const [response] = await raw.waitForResponses(1)
    expect(idOf(response)).toBe(1)
    expect(statusOf(response)).toBe(Status.OK)
    expect(raw.done).toBe(false)

    await cluster.stopNode(dds)
    expect(libp2p.status).toBe('started')
    await waitFor(() => raw.done, 'the inbound stream to be closed')
    expect(libp2p.getProtocols()).not.toContain(DDS_PROTOCOL)
    await expect(client.dialProtocol(libp2p.peerId, DDS_PROTOCOL, { signal: AbortSignal.timeout(WAIT_MS) })).rejects.toThrow()
  })
})
