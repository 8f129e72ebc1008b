/**
 * Progress events of publish and retrieve, as a caller sees them.
 */
import { describe, it, expect, afterEach } from 'vitest'
import { cidToString } from '../../src/index.js'
import { drain, recorder } from './helpers.js'
import { CHUNK_SIZE, chunkCount, concat, equalBytes, pseudoRandomBytes } from '../utils/content.js'
import { Cluster } from '../utils/cluster.js'
import { WAIT_MS } from '../utils/wait.js'

describe('progress events', () => {
  const cluster = new Cluster()
  afterEach(async () => { await cluster.stop() })

  it('publish reports each chunk, then stored, then announced; retrieve reports the manifest and each chunk in order', async () => {
    const data = pseudoRandomBytes(4 * CHUNK_SIZE + 12345, 41)
    const n = chunkCount(data)
    const p = await cluster.node()
    const r = await cluster.node({ bootstrap: p.getMultiaddrs() })
    // R's create returns once R knows P; P adds R to its routing table a moment later
    expect(await p.discovery.waitForPeers?.({ signal: AbortSignal.timeout(WAIT_MS) })).toBe(true)

    const pub = recorder()
    const cid = await p.publish(data, { onProgress: pub.onProgress })

    const chunks = pub.of('dds:publish:chunk')
    expect(chunks.map(d => d.index)).toEqual([...Array(n).keys()])
    expect(chunks.map(d => d.bytes)).toEqual([...Array(n).keys()].map(i => Math.min(CHUNK_SIZE, data.byteLength - i * CHUNK_SIZE)))
    expect(chunks.map(d => d.totalBytes)).toEqual([...Array(n).keys()].map(i => Math.min((i + 1) * CHUNK_SIZE, data.byteLength)))
    expect(pub.of('dds:publish:stored')).toEqual([{ cid, size: data.byteLength, chunks: n }])
    const announced = pub.of('dds:publish:announced')
    expect(announced).toHaveLength(1)
    expect(announced[0].cid).toBe(cid)
    // one DHT peer (R) can take the record
    expect(announced[0].peers).toBeGreaterThanOrEqual(1)
    // order: every chunk, then stored, then announced
    const types = pub.events.map(e => e.type)
    expect(types.lastIndexOf('dds:publish:chunk')).toBeLessThan(types.indexOf('dds:publish:stored'))
    expect(types.indexOf('dds:publish:stored')).toBeLessThan(types.indexOf('dds:publish:announced'))

    await p.awaitAnnouncements()
    const ret = recorder()
    const out = await drain(r.retrieve(cid, { onProgress: ret.onProgress }))
    expect(out.error).toBeUndefined()
    expect(equalBytes(concat(out.chunks), data)).toBe(true)

    const manifest = ret.of('dds:retrieve:manifest')
    expect(manifest).toHaveLength(1)
    expect(cidToString(manifest[0].cid)).toBe(cid)
    expect(manifest[0]).toMatchObject({ size: data.byteLength, chunks: n, from: p.peerId })
    const got = ret.of('dds:retrieve:chunk')
    expect(got.map(d => d.index)).toEqual([...Array(n).keys()])
    expect(got.every(d => d.chunks === n && d.from === p.peerId)).toBe(true)
    expect(got.map(d => d.bytes)).toEqual(out.chunks.map(c => c.byteLength))
    // the manifest event comes before any chunk event
    const rtypes = ret.events.map(e => e.type)
    expect(rtypes.indexOf('dds:retrieve:manifest')).toBeLessThan(rtypes.indexOf('dds:retrieve:chunk'))
    // nothing failed
    expect(ret.of('dds:retrieve:provider-failed')).toEqual([])
  })

  it("a local retrieve reports 'local' as the source", async () => {
    const data = pseudoRandomBytes(2 * CHUNK_SIZE + 1, 42)
    const p = await cluster.node()
    const cid = await p.publish(data)
    const ret = recorder()
    const out = await drain(p.retrieve(cid, { onProgress: ret.onProgress }))
    expect(equalBytes(concat(out.chunks), data)).toBe(true)
    expect(ret.of('dds:retrieve:manifest')[0].from).toBe('local')
    expect(ret.of('dds:retrieve:chunk').map(d => d.from)).toEqual(['local', 'local', 'local'])
  })

  it('empty content: no chunk events, a manifest of zero chunks, and an empty retrieval from a peer', async () => {
    const p = await cluster.node()
    const r = await cluster.node({ bootstrap: p.getMultiaddrs() })
    const pub = recorder()
    const cid = await p.publish(new Uint8Array(0), { onProgress: pub.onProgress })
    expect(pub.of('dds:publish:chunk')).toEqual([])
    expect(pub.of('dds:publish:stored')).toEqual([{ cid, size: 0, chunks: 0 }])
    const ret = recorder()
    const out = await drain(r.retrieve(cid, { onProgress: ret.onProgress }))
    expect(out.error).toBeUndefined()
    expect(out.chunks).toEqual([])
    expect(ret.of('dds:retrieve:manifest')).toMatchObject([{ size: 0, chunks: 0, from: p.peerId }])
    expect(ret.of('dds:retrieve:chunk')).toEqual([])
  })
})
