import type { PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import { CustomProgressEvent } from 'progress-events'
import { blockMatchesCid, cidToString } from '../cid.js'
import { IntegrityError, InvalidInputError, throwIfAborted } from '../errors.js'
import { LruMap } from '../lru.js'
import { chunkCount, decodeManifest, decodeManifestNode, nodeChunkCount, type Manifest } from '../manifest/index.js'
import { BlockFetcher, type BlockFetchLimits } from './block-fetch.js'
import { flatChunkList, treeChunkList, type ChunkList } from './chunk-list.js'
import { DECODED_LOCAL_MANIFEST_BYTES, DECODED_LOCAL_MANIFESTS, RECENT_MANIFEST_BYTES, RECENT_MANIFESTS } from './constants.js'
import { ProviderFeed } from './feed.js'
import type { ResolvedManifest, RetrievalComponents, RetrieveOptions } from './index.js'

/** A manifest fetched from a peer: its verified block, decoded, and the peers known to hold it. */
interface RecentManifest {
  bytes: Uint8Array
  manifest: Manifest
  from: string
  providers: PeerId[]
}

/** A verified manifest block, decoded when it came from the recent manifests. */
interface ManifestBlock {
  bytes: Uint8Array
  from: 'local' | string
  manifest?: Manifest
}

/**
 * Finds manifests and the chunk lists they describe: reads a manifest from
 * the local store, from the manifests fetched recently, or from peers, and
 * reads a tree manifest's nodes as a retrieval reaches them.
 */
export class ManifestResolver {
  /** The manifests fetched from peers most recently. */
  private readonly recent = new LruMap<string, RecentManifest>(RECENT_MANIFESTS, { maxWeight: RECENT_MANIFEST_BYTES, weigh: entry => entry.bytes.byteLength })
  /** Manifests read from the local store most recently, decoded. A CID names one manifest forever, so an entry never goes stale. */
  private readonly decodedLocal = new LruMap<string, { bytes: number, manifest: Manifest }>(DECODED_LOCAL_MANIFESTS, { maxWeight: DECODED_LOCAL_MANIFEST_BYTES, weigh: entry => entry.bytes })
  private readonly components: RetrievalComponents
  private readonly blocks: BlockFetcher

  constructor (components: RetrievalComponents, limits: BlockFetchLimits) {
    this.components = components
    this.blocks = new BlockFetcher(components, limits)
  }

  /** Fetches (or reads locally) and verifies the manifest named by `cid`; see `RetrievalService.resolveManifest`. */
  async resolve (cid: CID, options: RetrieveOptions = {}): Promise<ResolvedManifest> {
    throwIfAborted(options.signal, 'retrieve')
    const feed = new ProviderFeed()
    const close = (): void => { feed.stop() }
    try {
      const block = await this.manifestBlock(cid, feed, options)
      const manifest = block.manifest ?? this.decode(cid, block, feed)
      if (options.store === true && block.from !== 'local') {
        await this.components.storage.put(cid, block.bytes, { signal: options.signal })
      }
      options.onProgress?.(new CustomProgressEvent('dds:retrieve:manifest', {
        cid, size: manifest.size, chunks: chunkCount(manifest.size), from: block.from
      }))
      return { cid, manifest, providers: feed.peers, feed, bytes: block.bytes, close }
    } catch (err) {
      close()
      throw err
    }
  }

  /**
   * The chunk list of a resolved manifest. A tree's nodes are read from the
   * local store or fetched (from the manifest's holders first) when a chunk
   * they list is first needed, and stored too when `options.store` is set.
   */
  chunkList (manifest: Manifest, feed: ProviderFeed, options: RetrieveOptions): ChunkList {
    if (manifest.children == null) {
      return flatChunkList(manifest)
    }
    return treeChunkList(manifest, async (node, signal) => {
      const cid = manifest.children![node]!
      const local = await this.components.storage.get(cid, { signal })
      const held = local != null && blockMatchesCid(cid, local)
      const bytes = held ? local : (await this.blocks.fetch(cid, feed, { ...options, signal }, false)).bytes
      let cids: CID[]
      try {
        cids = decodeManifestNode(bytes, nodeChunkCount(manifest, node))
      } catch (err) {
        throw new IntegrityError(`node ${node} of the manifest tree is invalid: ${(err as Error).message}`, { cause: err })
      }
      if (options.store === true && !held) {
        await this.components.storage.put(cid, bytes, { signal })
      }
      return cids
    })
  }

  /** The manifest block from the local store (if intact), the recent manifests, or peers. */
  private async manifestBlock (cid: CID, feed: ProviderFeed, options: RetrieveOptions): Promise<ManifestBlock> {
    const local = await this.components.storage.get(cid, options)
    if (local != null && blockMatchesCid(cid, local)) {
      return { bytes: local, from: 'local', manifest: this.decodedLocal.get(cidToString(cid))?.manifest }
    }
    const recent = this.recent.get(cidToString(cid))
    if (recent != null) {
      recent.providers.forEach(peer => { feed.push(peer) })
      return recent
    }
    return this.blocks.fetch(cid, feed, options, true)
  }

  /** Decodes a manifest block; one fetched from peers joins the recent manifests. */
  private decode (cid: CID, block: ManifestBlock, feed: ProviderFeed): Manifest {
    let manifest: Manifest
    try {
      manifest = decodeManifest(block.bytes)
    } catch (err) {
      throw new InvalidInputError(`${cidToString(cid)} names a block that is not a DDS manifest: ${(err as Error).message}`, { cause: err })
    }
    if (block.from !== 'local') {
      this.recent.set(cidToString(cid), { bytes: block.bytes, manifest, from: block.from, providers: [...feed.peers] })
    } else {
      this.decodedLocal.set(cidToString(cid), { bytes: block.bytes.byteLength, manifest })
    }
    return manifest
  }
}
