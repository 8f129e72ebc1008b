import { CustomProgressEvent } from 'progress-events'
import type { CID } from 'multiformats/cid'
import { cidToString, parseCid } from '../cid.js'
import { chunkContent, ContentHasher, type ContentInput } from '../chunker/index.js'
import { COLLECTION_MEDIA_TYPE, ManifestBuilder, checkPath, chunkCount, decodeManifest, encodeCollection, type CollectionEntry, type Manifest } from '../manifest/index.js'
import { InvalidInputError } from '../errors.js'
import { BatchWriter } from '../storage/index.js'
import { componentLog, silentLog, type DdsLogger } from '../log/index.js'
import { seed } from './seed.js'
import type { CollectionSource, Publisher, PublisherComponents, PublisherInit, PublishOptions } from './index.js'

/** The Publisher implementation; created through `publisher()`. */
export class DdsPublisher implements Publisher {
  private readonly components: PublisherComponents
  private readonly init: Required<PublisherInit>

  private readonly log: DdsLogger

  constructor (components: PublisherComponents, init: Required<PublisherInit>) {
    this.components = components
    this.init = init
    this.log = components.logger != null ? componentLog(components.logger, 'dds:publish') : silentLog
  }

  async publish (input: ContentInput, options: PublishOptions = {}): Promise<string> {
    return this.finish(await this.components.replication.pinWritten(async () => this.store(input, options)), options)
  }

  async publishCollection (source: CollectionSource, options: PublishOptions = {}): Promise<string> {
    return this.finish(await this.components.replication.pinWritten(async () => {
      const entries: CollectionEntry[] = []
      for await (const input of source) {
        const path = checkPath(input?.path)
        const description = {
          name: input.name ?? path.slice(path.lastIndexOf('/') + 1),
          ...(input.mediaType != null ? { mediaType: input.mediaType } : {}),
          ...(input.metadata != null ? { metadata: input.metadata } : {})
        }
        if (input.content != null) {
          const stored = await this.store(input.content, { ...description, signal: options.signal })
          entries.push({ path, cid: stored.cid, size: stored.size, name: description.name, ...describedBy(stored.manifest) })
        } else if (input.cid != null) {
          const cid = parseCid(input.cid)
          const bytes = await this.components.storage.get(cid, { signal: options.signal })
          if (bytes == null) {
            throw new InvalidInputError(`entry ${path}: ${cidToString(cid)} is not in this node's store; publish or pin it first`)
          }
          const manifest = decodeManifest(bytes)
          entries.push({ path, cid, size: manifest.size, name: input.name ?? manifest.name ?? description.name, ...describedBy(manifest), ...(input.mediaType != null ? { mediaType: input.mediaType } : {}), ...(input.metadata != null ? { metadata: input.metadata } : {}) })
        } else {
          throw new InvalidInputError(`entry ${path} has neither content nor cid`)
        }
      }
      const list = await this.store(encodeCollection(entries), { ...options, mediaType: COLLECTION_MEDIA_TYPE })
      // what the collection holds: its list and every entry
      return { ...list, size: entries.reduce((sum, e) => sum + e.size, list.size) }
    }), options)
  }

  /** Seeds, announces and asks for copies of what a publish stored and pinned. */
  private async finish ({ cid, size, manifest }: { cid: CID, size: number, manifest: Manifest }, options: PublishOptions): Promise<string> {
    const cidString = cidToString(cid)
    options.onProgress?.(new CustomProgressEvent('dds:publish:stored', { cid: cidString, size, chunks: chunkCount(size) }))
    this.log.info('content published', { cid: cidString, name: manifest.name, size, chunks: chunkCount(size) })
    if (this.init.seedPeers.length > 0) {
      await seed(cid, manifest, this.init.seedPeers, this.components, options)
    }
    const announced = await this.components.announcer.announcePublished(cid, manifest, { signal: options.signal })
    if (announced != null) {
      options.onProgress?.(new CustomProgressEvent('dds:publish:announced', { cid: cidString, peers: announced.peers }))
    }
    this.components.replication.replicate(cid)
    return cidString
  }

  /**
   * Chunks, hashes and stores content and its manifest (and, for large
   * content, the nodes of its manifest tree) in batches, holding at most one
   * manifest block's worth of chunk CIDs. If aborted, what was already
   * written stays in the store unreferenced, for gc.
   */
  private async store (input: ContentInput, options: PublishOptions): Promise<{ cid: CID, size: number, manifest: Manifest }> {
    const hasher = new ContentHasher()
    const builder = new ManifestBuilder(this.init.chunksPerBlock, { name: options.name, mediaType: options.mediaType, metadata: options.metadata })
    const writer = new BatchWriter(this.components.storage, options.signal)
    try {
      for await (const chunk of chunkContent(input, { signal: options.signal })) {
        hasher.update(chunk.bytes)
        await writer.add(chunk.cid, chunk.bytes)
        const node = builder.add(chunk.cid)
        if (node != null) {
          await writer.add(node.cid, node.bytes)
        }
        options.onProgress?.(new CustomProgressEvent('dds:publish:chunk', { index: chunk.index, bytes: chunk.bytes.byteLength, totalBytes: hasher.size }))
      }
      const { node, root, manifest } = builder.finish(hasher.digest(), hasher.size)
      await writer.flush(...(node != null ? [node] : []), root)
      return { cid: root.cid, size: hasher.size, manifest }
    } finally {
      await writer.settle()
    }
  }
}

/** An entry's media type and metadata, as its manifest records them. */
function describedBy (manifest: Manifest): Pick<CollectionEntry, 'mediaType' | 'metadata'> {
  return {
    ...(manifest.mediaType != null ? { mediaType: manifest.mediaType } : {}),
    ...(manifest.metadata != null && Object.keys(manifest.metadata).length > 0 ? { metadata: manifest.metadata } : {})
  }
}
