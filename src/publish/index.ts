/**
 * Publishing: content in, a manifest CID out. The publisher chunks and
 * hashes the input as it streams, writes chunks and manifest in batches,
 * pins the content, pushes its blocks to seed peers, has it announced and
 * asks for copies.
 *
 * @module
 */

import type { AbortOptions, PeerId, ComponentLogger } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import type { ProgressEvent, ProgressOptions } from 'progress-events'
import type { ContentInput } from '../chunker/index.js'
import { DEFAULT_CHUNKS_PER_BLOCK, ManifestBuilder, type ContentDescription } from '../manifest/index.js'
import type { Announcer } from '../announce/index.js'
import type { NetworkService } from '../network/index.js'
import type { ReplicationManager } from '../replication/index.js'
import type { StorageProvider } from '../storage/index.js'
import { DdsPublisher } from './publisher.js'

export { splitInput, type PublishInput } from './input.js'

export type PublishProgressEvents =
  | ProgressEvent<'dds:publish:chunk', { index: number, bytes: number, totalBytes: number }>
  | ProgressEvent<'dds:publish:stored', { cid: string, size: number, chunks: number }>
  | ProgressEvent<'dds:publish:announced', { cid: string, peers: number }>
  | ProgressEvent<'dds:publish:seeded', { peer: string, blocks: number }>
  | ProgressEvent<'dds:publish:seed-failed', { peer: string, error: Error }>

/**
 * Options of `publish`: besides a signal and a progress listener, a
 * description of the content (`name`, `mediaType`, `metadata`) recorded in
 * its manifest, so it is part of the CID and travels with the content.
 */
export interface PublishOptions extends AbortOptions, ProgressOptions<PublishProgressEvents>, ContentDescription {}

/**
 * One entry of a collection to publish: its path in the collection and
 * either its content (published with it) or the manifest CID of content this
 * node already holds. `name` defaults to the path's last segment; `mediaType`
 * and `metadata` (title, artist, track ...) describe the entry.
 */
export interface CollectionInput extends ContentDescription {
  path: string
  content?: ContentInput
  cid?: CID | string
}

/** A collection to publish: its entries, as an array or an (async) iterable. */
export type CollectionSource = Iterable<CollectionInput> | AsyncIterable<CollectionInput>

/** What the publisher needs from the node. */
export interface PublisherComponents {
  storage: StorageProvider
  /** Pins what a publish wrote (under the gc lock) and keeps it at the replication factor. */
  replication: Pick<ReplicationManager, 'pinWritten' | 'replicate'>
  announcer: Pick<Announcer, 'announcePublished'>
  /** Pushes blocks to seed peers. */
  network: Pick<NetworkService, 'storeBlock'>
  /** Where publishing logs (as `dds:publish`). @default nothing is logged */
  logger?: ComponentLogger
}

/** Options of the publisher. */
export interface PublisherInit {
  /** Chunks per manifest block (see `DdsInit.manifestChunksPerBlock`). @default 27593 */
  chunksPerBlock?: number
  /** Peers every publish pushes its blocks to. @default [] */
  seedPeers?: PeerId[]
}

/** Publishes content. */
export interface Publisher {
  /** Stores, pins, seeds and announces content; resolves to its manifest CID (base58btc). */
  publish(input: ContentInput, options?: PublishOptions): Promise<string>

  /**
   * Publishes a collection: every entry's content, then the list of
   * entries, pinned, seeded and announced as one content (see
   * `contentBlocks`). Options describe the collection (an album's title).
   */
  publishCollection(entries: CollectionSource, options?: PublishOptions): Promise<string>
}

/** Creates the publisher. */
export function publisher (init: PublisherInit = {}): (components: PublisherComponents) => Publisher {
  const chunksPerBlock = init.chunksPerBlock ?? DEFAULT_CHUNKS_PER_BLOCK
  void new ManifestBuilder(chunksPerBlock) // checks the value before anything starts
  return (components) => new DdsPublisher(components, { chunksPerBlock, seedPeers: init.seedPeers ?? [] })
}
