import { setMaxListeners } from 'node:events'
import type { PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import parallel from 'it-parallel'
import { CustomProgressEvent } from 'progress-events'
import { cidToString } from '../cid.js'
import { RemoteError, throwIfAborted } from '../errors.js'
import { contentBlocks, type Manifest } from '../manifest/index.js'
import { deadlineSignal } from '../signals.js'
import { DEFAULT_SEED_CONCURRENCY } from './constants.js'
import type { PublisherComponents, PublishOptions } from './index.js'

/**
 * Pushes every block of stored content to each seed peer with StoreChunk,
 * chunks first and the manifest last (so a seed pins the content only once
 * it holds it all), `DEFAULT_SEED_CONCURRENCY` requests in flight per peer.
 * Fails only if no seed took them all.
 */
export async function seed (cid: CID, manifest: Manifest, peers: PeerId[], components: Pick<PublisherComponents, 'storage' | 'network'>, options: PublishOptions): Promise<void> {
  const errors: string[] = []
  // every StoreChunk in flight listens to this one signal, not to the caller's
  const linked = deadlineSignal(options.signal)
  setMaxListeners(Infinity, linked.signal)
  const signal = linked.signal
  const push = async (peer: PeerId, block: CID): Promise<void> => {
    const bytes = await components.storage.get(block, options)
    if (bytes == null) {
      throw new RemoteError(`block ${cidToString(block)} vanished from the local store`)
    }
    await components.network.storeBlock(peer, block, bytes, { signal })
  }
  await Promise.all(peers.map(async (peer) => {
    try {
      let count = 0
      const read = async (block: CID): Promise<Uint8Array | undefined> => components.storage.get(block, options)
      const tasks = async function * (): AsyncGenerator<() => Promise<void>> {
        for await (const block of contentBlocks(cid, manifest, read)) {
          count++
          yield async () => { await push(peer, block) }
        }
      }
      for await (const _ of parallel(tasks(), { concurrency: DEFAULT_SEED_CONCURRENCY })) {
        void _
      }
      options.onProgress?.(new CustomProgressEvent('dds:publish:seeded', { peer: peer.toString(), blocks: count }))
    } catch (err) {
      throwIfAborted(options.signal, 'publish')
      errors.push(`${peer.toString()}: ${(err as Error).message}`)
      options.onProgress?.(new CustomProgressEvent('dds:publish:seed-failed', { peer: peer.toString(), error: err as Error }))
    }
  })).finally(() => { linked.clear() })
  if (errors.length === peers.length) {
    throw new RemoteError(`the content is stored locally, but no seed peer took it: ${errors.join('; ')}`)
  }
}
