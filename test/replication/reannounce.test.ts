/** Announcements that last: a node that restarts announces what it holds again. */
import { describe, it, expect, afterEach } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Dds } from '../../src/index.js'
import { pseudoRandomBytes, sha256Hex } from '../utils/content.js'
import { cidForBlock } from '../../src/cid.js'

const chunkCid = (content: Uint8Array, i: number): ReturnType<typeof cidForBlock> => cidForBlock(content.subarray(i * 262144, (i + 1) * 262144))

describe('announcements after a restart', () => {
  const nodes: Dds[] = []
  const dirs: string[] = []
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map(async n => n.stop().catch(() => {})))
    await Promise.all(dirs.splice(0).map(async d => rm(d, { recursive: true, force: true })))
  })
  const node = async (init: Parameters<typeof Dds.create>[0]): Promise<Dds> => {
    const n = await Dds.create({ replication: { factor: 1 }, retrieval: { providerTimeoutMs: 10_000 }, ...init })
    nodes.push(n)
    return n
  }

  it('a LevelDB node that restarts announces its pins again, so a stranger finds it on the DHT', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dds-reannounce-'))
    dirs.push(dir)
    const content = pseudoRandomBytes(2 * 262144 + 3, 81)
    // published alone: the record reached no DHT peer, and the process ends
    const first = await Dds.create({ storage: dir, replication: { factor: 1 } })
    const cid = await first.publish(content)
    await first.stop()

    const hub = await node({})
    const reopened = await node({ storage: dir, bootstrap: hub.getMultiaddrs() })
    await reopened.awaitAnnouncements()
    const stranger = await node({ bootstrap: hub.getMultiaddrs() })
    // only the DHT can lead the stranger to the reopened node
    await stranger.libp2p.hangUp(reopened.libp2p.peerId)
    let from = ''
    const got = await stranger.retrieveBytes(cid, {
      onProgress: (evt) => { if (evt.type === 'dds:retrieve:manifest') from = (evt.detail as { from: string }).from }
    })
    expect(sha256Hex(got)).toBe(sha256Hex(content))
    expect(from).toBe(reopened.peerId)
  })

  it('awaitAnnouncements waits for what a node announces again when its first peer connects', async () => {
    const content = pseudoRandomBytes(3 * 262144, 82)
    // published alone: every announcement reached no DHT peer
    const alone = await node({})
    await alone.publish(content)
    const hub = await node({})
    await alone.connect(hub.getMultiaddrs()[0]!)
    await alone.awaitAnnouncements()
    // nothing more can leave this node: only records already sent count
    const last = chunkCid(content, 2)
    const aloneId = alone.peerId
    await alone.stop()
    const stranger = await node({ bootstrap: hub.getMultiaddrs() })
    const found = new Set<string>()
    try {
      for await (const evt of stranger.libp2p.services.dht.findProviders(last, { signal: AbortSignal.timeout(5_000) })) {
        if (evt.name === 'PROVIDER') {
          evt.providers.forEach(p => found.add(p.id.toString()))
        }
        if (found.has(aloneId)) {
          break
        }
      }
    } catch {}
    expect([...found]).toContain(aloneId)
  })
})
