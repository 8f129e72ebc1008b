import { it, expect } from 'vitest'
import { randomBytes } from 'node:crypto'
import * as lp from 'it-length-prefixed'
import { multiaddr } from '@multiformats/multiaddr'
import { Uint8ArrayList } from 'uint8arraylist'
import { Dds } from '../../src/index.js'
import { pb } from '../../src/pb/index.js'
import { parseCid } from '../../src/cid.js'
import { IndependentClient } from '../fixtures/independent-client.js'

it('probe', async () => {
  const server = await Dds.create({ announce: 'none' })
  const c = await IndependentClient.create()
  const content = randomBytes(3 * 262144)
  const cid = await server.publish(content)
  const m = pb.ContentManifest.decode(await server.storage.get(parseCid(cid)) as Uint8Array)
  for (const closeEarly of [true, false]) {
    const stream = await c.node.dialProtocol(multiaddr(server.getMultiaddrs()[0]!), '/digisocialblock/dds/0.1.0')
    const buf = new Uint8ArrayList()
    const events: string[] = []
    stream.addEventListener('message', e => { buf.append(e.data); events.push('msg ' + e.data.byteLength) })
    stream.addEventListener('remoteCloseWrite', () => events.push('remoteCloseWrite'))
    const closed = new Promise<any>(r => stream.addEventListener('close', e => { events.push('close ' + String(e.error)); r(e) }))
    for (let i = 0; i < 3; i++) stream.send(lp.encode.single(pb.Request.encode({ id: i + 1, retrieveChunk: { cid: m.chunkCids[i] } }).finish()))
    if (closeEarly) await stream.close()
    else {
      while (buf.byteLength < 3 * 262144) await new Promise(r => setTimeout(r, 20))
      await stream.close()
    }
    await Promise.race([closed, new Promise(r => setTimeout(r, 3000))])
    console.log(closeEarly, buf.byteLength, events.filter(e => !e.startsWith('msg')), stream.status)
  }
  await c.stop(); await server.stop()
})
