/**
 * `GET /api/v1/chunks/<cid>`: what a client resuming a download checks its
 * kept bytes against, read from the manifest of content held elsewhere
 * (a single-block manifest and a tree).
 */
import { describe, it, expect, afterAll } from 'vitest'
import { createHash, randomBytes } from 'node:crypto'
import { CHUNK_SIZE, cidForBlock, cidToString } from '../../src/cid.js'
import { Cluster } from '../utils/cluster.js'
import { Gateways, http } from './helpers.js'

const cluster = new Cluster()
const gateways = new Gateways()
afterAll(async () => {
  await gateways.close()
  await cluster.stop()
})

function chunkCids (content: Uint8Array): string[] {
  const cids: string[] = []
  for (let offset = 0; offset < content.byteLength; offset += CHUNK_SIZE) {
    cids.push(cidToString(cidForBlock(content.subarray(offset, offset + CHUNK_SIZE))))
  }
  return cids
}

describe('GET /api/v1/chunks/<cid>', () => {
  it.each([
    ['a single-block manifest', undefined],
    ['a tree manifest, whose nodes it fetches', 2]
  ])('lists size, SHA-256 and a page of chunk CIDs of content another node holds (%s)', async (_what, chunksPerBlock) => {
    const [a, b] = await cluster.network(2, chunksPerBlock != null ? { manifestChunksPerBlock: chunksPerBlock } : {})
    const content = randomBytes(5 * CHUNK_SIZE + 1000)
    const cid = await a!.publish(content)
    const gateway = await gateways.start(b!)
    const expected = chunkCids(content)

    const all = await http(`${gateway.url}/api/v1/chunks/${cid}`)
    expect(all.status).toBe(200)
    expect(JSON.parse(all.body.toString())).toEqual({
      cid,
      size: content.byteLength,
      sha256: createHash('sha256').update(content).digest('hex'),
      chunks: 6,
      from: 0,
      cids: expected
    })
    const page = JSON.parse((await http(`${gateway.url}/api/v1/chunks/${cid}?from=3&count=2`)).body.toString())
    expect(page).toMatchObject({ from: 3, cids: expected.slice(3, 5) })
    const past = JSON.parse((await http(`${gateway.url}/api/v1/chunks/${cid}?from=99`)).body.toString())
    expect(past).toMatchObject({ from: 6, cids: [] })
    const bad = await http(`${gateway.url}/api/v1/chunks/${cid}?from=-1`)
    expect(bad.status).toBe(400)
  })

  it('refuses a chunk CID as not naming content', async () => {
    const [a, b] = await cluster.network(2)
    const content = randomBytes(CHUNK_SIZE + 1)
    await a!.publish(content)
    const gateway = await gateways.start(b!)
    const chunk = chunkCids(content)[0]!
    const r = await http(`${gateway.url}/api/v1/chunks/${chunk}`)
    expect(r.status).toBe(400)
    expect(JSON.parse(r.body.toString()).error.message).toBe(`${chunk} is not the CID of content: it names a block that is not a DDS manifest (a chunk of some content, perhaps); use the CID that publishing the content returned`)
  })
})
