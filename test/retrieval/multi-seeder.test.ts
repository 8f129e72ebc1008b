/** Several holders: the work is spread, duplicates stay few, and a holder that vanishes is routed around. */
import { describe, it, expect, afterEach } from 'vitest'
import { recorder, drain } from './helpers.js'
import type { Dds } from '../../src/index.js'
import { Cluster } from '../utils/cluster.js'
import { CHUNK_SIZE, concat, equalBytes, pseudoRandomBytes } from '../utils/content.js'

describe('retrieval from several seeders', () => {
  const cluster = new Cluster()
  afterEach(async () => { await cluster.stop() })

  async function seeders (count: number, data: Uint8Array): Promise<{ seeds: Dds[], cid: string }> {
    const seeds: Dds[] = []
    let cid = ''
    for (let i = 0; i < count; i++) {
      const seed = await cluster.node({ bootstrap: seeds.flatMap(s => s.getMultiaddrs()).slice(0, 1), announce: 'manifest' })
      cid = await seed.publish(data)
      seeds.push(seed)
    }
    return { seeds, cid }
  }

  it('uses every seeder and receives each chunk about once', async () => {
    const data = pseudoRandomBytes(96 * CHUNK_SIZE, 51)
    const { seeds, cid } = await seeders(3, data)
    const r = await cluster.node({ bootstrap: seeds.map(s => s.getMultiaddrs()[0]!) })
    const progress = recorder()
    const out = await drain(r.retrieve(cid, { onProgress: progress.onProgress }))
    expect(out.error).toBeUndefined()
    expect(equalBytes(concat(out.chunks), data)).toBe(true)
    const from = new Set(progress.of('dds:retrieve:chunk').map((d: { from: string }) => d.from))
    expect(from.size).toBe(3)
    const [done] = progress.of('dds:retrieve:done') as Array<{ bytesReceived: number, duplicates: number, peersUsed: number }>
    expect(done!.peersUsed).toBe(3)
    // duplicates only in the endgame: at most one per seeder
    expect(done!.duplicates).toBeLessThanOrEqual(3)
    expect(done!.bytesReceived).toBeLessThanOrEqual(data.byteLength + 3 * CHUNK_SIZE)
  })

  it('finishes from the others when a seeder stops mid-transfer', async () => {
    const data = pseudoRandomBytes(64 * CHUNK_SIZE, 52)
    const { seeds, cid } = await seeders(2, data)
    const r = await cluster.node({ bootstrap: seeds.map(s => s.getMultiaddrs()[0]!), retrieval: { window: 8 } })
    const out = await drain(r.retrieve(cid), async (index) => {
      if (index === 8) {
        await seeds[0]!.stop()
      }
    })
    expect(out.error).toBeUndefined()
    expect(equalBytes(concat(out.chunks), data)).toBe(true)
  })
})
