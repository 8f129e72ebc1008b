import { describe, it, expect, afterEach } from 'vitest'
import { randomBytes } from 'node:crypto'
import { Dds } from '../../src/index.js'

describe('smoke', () => {
  const nodes: Dds[] = []
  afterEach(async () => { await Promise.all(nodes.splice(0).map(async n => n.stop())) })

  it('publishes on A and retrieves on C through B', async () => {
    const b = await Dds.create()
    nodes.push(b)
    const a = await Dds.create({ bootstrap: b.getMultiaddrs() })
    nodes.push(a)
    const c = await Dds.create({ bootstrap: b.getMultiaddrs() })
    nodes.push(c)
    const content = randomBytes(3 * 262144 + 5)
    const t0 = Date.now()
    const cid = await a.publish(content)
    console.log('published', cid, Date.now() - t0)
    const got = await c.retrieveBytes(cid)
    console.log('retrieved', Date.now() - t0)
    expect(Buffer.from(got).equals(content)).toBe(true)
    expect(c.libp2p.getConnections(a.libp2p.peerId).length).toBeGreaterThan(0)
  })
})
