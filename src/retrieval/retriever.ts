import type { CID } from 'multiformats/cid'
import { CustomProgressEvent } from 'progress-events'
import { cidToString } from '../cid.js'
import { IntegrityError, InvalidInputError, abortReason } from '../errors.js'
import { CHUNK_SIZE, ContentHasher } from '../chunker/index.js'
import { chunkCount, chunkSpan, type ChunkSpan } from '../manifest/index.js'
import { BatchWriter } from '../storage/index.js'
import { numberOption } from '../options.js'
import { ProviderFeed } from './feed.js'
import { ManifestResolver } from './manifests.js'
import { RetrievalSession, type DeliveredChunk, type SessionLimits } from './session.js'
import type {
  ResolvedManifest, ResolvedRetrievalInit, RetrievalComponents, RetrievalService, RetrieveOptions
} from './index.js'

/** A byte range of the content, checked against its size. */
interface ByteRange {
  offset: number
  length: number
  /** True when the range is the whole content (its SHA-256 is then checked). */
  whole: boolean
}

/**
 * The retrieval engine; created through `retrievalService()`. Manifests (and
 * a tree's nodes) come from the ManifestResolver; this streams the content
 * they describe: one RetrievalSession per read fetches the chunks of the
 * range, and every chunk is checked against the size the manifest implies
 * (and the whole content against its SHA-256) on its way out.
 */
export class Retriever implements RetrievalService {
  readonly fetched = { chunks: 0, bytes: 0 }
  private readonly components: RetrievalComponents
  private readonly manifests: ManifestResolver
  private readonly sessionLimits: SessionLimits

  constructor (components: RetrievalComponents, init: ResolvedRetrievalInit) {
    this.components = components
    this.manifests = new ManifestResolver(components, init)
    this.sessionLimits = {
      window: init.window,
      maxPeers: init.maxPeers,
      maxProviders: init.maxProviders,
      requestBatch: init.requestBatch,
      providerTimeoutMs: init.providerTimeoutMs,
      initialWindow: init.initialPeerWindow,
      maxWindow: init.maxPeerWindow,
      minTimeoutMs: init.minBlockTimeoutMs,
      maxTimeoutMs: init.blockTimeoutMs
    }
  }

  async resolveManifest (cid: CID, options: RetrieveOptions = {}): Promise<ResolvedManifest> {
    return this.manifests.resolve(cid, options)
  }

  async * content (resolved: ResolvedManifest, options: RetrieveOptions = {}): AsyncGenerator<Uint8Array> {
    const { manifest } = resolved
    // the chunk loop stays in this generator: a delegated generator would add a promise per piece
    const feed = resolved.feed ?? new ProviderFeed()
    let session: RetrievalSession | undefined
    let writer: BatchWriter | undefined
    let unsubscribe: (() => void) | undefined
    try {
      const range = byteRange(manifest.size, options.offset, options.length)
      if (range.length === 0) {
        if (range.whole) {
          checkWhole(resolved, new ContentHasher())
        }
        return
      }
      const last = Math.floor((range.offset + range.length - 1) / CHUNK_SIZE)
      session = this.session(resolved, feed, range, last, options)
      unsubscribe = feed.subscribe(peer => { session!.addPeer(peer) })
      resolved.providers.forEach(peer => session!.addPeer(peer))
      const hasher = range.whole ? new ContentHasher() : undefined
      writer = options.store === true ? new BatchWriter(this.components.storage, options.signal) : undefined
      for await (const chunk of session.deliver()) {
        const span = this.received(resolved, chunk)
        if (writer != null && chunk.from !== 'local') {
          await writer.add(chunk.cid, chunk.bytes.subarray())
        }
        if (hasher != null) {
          hashChunk(resolved, hasher, chunk, chunk.index === last)
        }
        options.onProgress?.(new CustomProgressEvent('dds:retrieve:chunk', {
          index: chunk.index, chunks: chunkCount(manifest.size), bytes: chunk.bytes.byteLength, from: chunk.from
        }))
        const start = Math.max(range.offset - span.offset, 0)
        const end = Math.min(range.offset + range.length - span.offset, span.length)
        // the chunk goes out in the pieces it arrived in: joining them would copy it
        for (const piece of start === 0 && end === span.length ? chunk.bytes : chunk.bytes.sublist(start, end)) {
          if (options.signal?.aborted === true) {
            throw abortReason(options.signal, 'retrieve')
          }
          if (piece.byteLength > 0) {
            yield piece
          }
        }
      }
      await writer?.flush()
    } finally {
      await writer?.settle()
      unsubscribe?.()
      feed.stop()
      resolved.close()
      if (session != null) {
        options.onProgress?.(new CustomProgressEvent('dds:retrieve:done', { cid: resolved.cid, ...session.stats }))
      }
    }
  }

  /** The session that fetches the chunks of `range` (which ends in chunk `last`). */
  private session (resolved: ResolvedManifest, feed: ProviderFeed, range: ByteRange, last: number, options: RetrieveOptions): RetrievalSession {
    const first = Math.floor(range.offset / CHUNK_SIZE)
    const chunks = this.manifests.chunkList(resolved.manifest, feed, options)
    const limits = options.window == null ? this.sessionLimits : { ...this.sessionLimits, window: numberOption('window', options.window, this.sessionLimits.window) }
    return new RetrievalSession(this.components, limits, chunks, { content: resolved.cid, first, last }, options.signal, (peer, cid, error) => {
      options.onProgress?.(new CustomProgressEvent('dds:retrieve:provider-failed', { peer, cid, error }))
    })
  }

  /** Checks a delivered chunk's size against the manifest and counts it if it came from a peer; returns its place in the content. */
  private received (resolved: ResolvedManifest, chunk: DeliveredChunk): ChunkSpan {
    const span = chunkSpan(resolved.manifest.size, chunk.index)
    if (chunk.bytes.byteLength !== span.length) {
      throw new IntegrityError(`chunk ${chunk.index} of ${cidToString(resolved.cid)} has ${chunk.bytes.byteLength} bytes where the manifest's size implies ${span.length}`)
    }
    if (chunk.from !== 'local') {
      this.fetched.chunks++
      this.fetched.bytes += chunk.bytes.byteLength
    }
    return span
  }
}

/** Adds a chunk to the whole-content hash; after the last one, checks the hash and size against the manifest. */
function hashChunk (resolved: ResolvedManifest, hasher: ContentHasher, chunk: DeliveredChunk, isLast: boolean): void {
  for (const piece of chunk.bytes) {
    hasher.update(piece)
  }
  if (isLast) {
    checkWhole(resolved, hasher)
  }
}

/** Throws IntegrityError unless the content hashed matches the manifest's whole-content SHA-256 and size. */
function checkWhole (resolved: ResolvedManifest, hasher: ContentHasher): void {
  const { manifest } = resolved
  const digest = hasher.digest()
  if (hasher.size !== manifest.size || !digest.every((b, i) => b === manifest.sha256[i])) {
    throw new IntegrityError(`the content of ${cidToString(resolved.cid)} does not match its manifest's whole-content SHA-256 and size`)
  }
}

/** Checks a requested byte range against the content size. */
function byteRange (size: number, offset = 0, length?: number): ByteRange {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new InvalidInputError(`offset must be a non-negative integer, got ${String(offset)}`)
  }
  if (offset > size) {
    throw new InvalidInputError(`offset ${offset} is past the end of the content (${size} bytes)`)
  }
  const wanted = length ?? size - offset
  if (!Number.isSafeInteger(wanted) || wanted < 0) {
    throw new InvalidInputError(`length must be a non-negative integer, got ${String(length)}`)
  }
  if (offset + wanted > size) {
    throw new InvalidInputError(`the range ${offset}+${wanted} runs past the end of the content (${size} bytes)`)
  }
  return { offset, length: wanted, whole: offset === 0 && wanted === size }
}
