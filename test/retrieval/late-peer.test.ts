/**
 * A peer that is slow on some chunks but answers within its deadline: the
 * chunk the output waits for is asked of another peer too once it is late,
 * so the output does not stall for the slow peer's full answer time.
 */
import { describe, it, expect, afterEach } from 'vitest'
import { drain, recorder } from './helpers.js'
import { slowStorage } from '../utils/slow-storage.js'
import { Cluster } from '../utils/cluster.js'
import { CHUNK_SIZE, chunkCid, concat, equalBytes, pseudoRandomBytes } from '../utils/content.js'

describe('a late peer', () => {
  const cluster = new Cluster()
  afterEach(async () => { await cluster.stop() })

  it('has the chunk the output waits for asked of another peer', async () => {
    const chunks = 32
    const data = pseudoRandomBytes(chunks * CHUNK_SIZE, 71)
    // every chunk from the 8th on takes 2.5 s from the slow seeder (its
    // deadline is 3 s, so it never times out)
    const slowCids = new Set(Array.from({ length: chunks - 8 }, (_, i) => chunkCid(data, i + 8).toString()))
    const slow = await cluster.node({ storage: slowStorage(2_500, cid => slowCids.has(cid.toString())), announce: 'manifest' })
    const cid = await slow.publish(data)
    const fast = await cluster.node({ bootstrap: [slow.getMultiaddrs()[0]!], announce: 'manifest' })
    expect(await fast.publish(data)).toBe(cid)
    const r = await cluster.node({ bootstrap: [slow.getMultiaddrs()[0]!, fast.getMultiaddrs()[0]!], retrieval: { window: 8 } })
    const progress = recorder()
    const out = await drain(r.retrieve(cid, { onProgress: progress.onProgress }))
    expect(out.error).toBeUndefined()
    expect(equalBytes(concat(out.chunks), data)).toBe(true)
    const [done] = progress.of('dds:retrieve:done') as Array<{ rescued: number, bytesReceived: number }>
    expect(done!.rescued).toBeGreaterThanOrEqual(1)
    // every slow chunk came from the fast seeder: none waited out the 2.5 s
    const slowKey = slow.peerId.toString()
    const fromSlow = (progress.of('dds:retrieve:chunk') as Array<{ index: number, from: string }>).filter(d => d.index >= 8 && d.from === slowKey)
    expect(fromSlow).toEqual([])
  })
})
