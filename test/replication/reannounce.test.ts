/** Announcements that last: a node that restarts announces what it holds again. */
import { describe, it, expect, afterEach } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Dds } from '../../src/index.js'
import { pseudoRandomBytes, sha256Hex } from '../utils/content.js'

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
})
