import type { PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import { CustomProgressEvent } from 'progress-events'
import { blockMatchesCid, cidToString } from '../cid.js'
import {
  AbortError, IntegrityError, InvalidInputError, NotFoundError, ProtocolError, abortReason, throwIfAborted
} from '../errors.js'
import { ContentHasher } from '../chunker/index.js'
import { chunkSpan, decodeManifest } from '../manifest/index.js'
import { ProviderSet } from './providers.js'
import type {
  ResolvedManifest, ResolvedRetrievalInit, RetrievalComponents, RetrievalService, RetrieveOptions
} from './index.js'

interface Fetched {
  bytes: Uint8Array
  from: 'local' | string
  peer?: PeerId
}

/** Why each peer failed for one block, to explain a final NotFoundError or IntegrityError. */
class Failures {
  readonly reasons: string[] = []
  integrity = false

  add (peer: PeerId, err: Error): void {
    this.integrity ||= err instanceof IntegrityError
    this.reasons.push(`${peer.toString()}: ${err.name}`)
  }

  describe (): string {
    return this.reasons.length === 0 ? 'no provider was found' : `tried ${this.reasons.join(', ')}`
  }
}

/** The retrieval engine; created through `retrievalService()`. */
export class Retriever implements RetrievalService {
  private readonly components: RetrievalComponents
  private readonly init: ResolvedRetrievalInit

  constructor (components: RetrievalComponents, init: ResolvedRetrievalInit) {
    this.components = components
    this.init = init
  }

  async resolveManifest (cid: CID, options: RetrieveOptions = {}): Promise<ResolvedManifest> {
    throwIfAborted(options.signal, 'retrieve')
    const local = await this.readLocal(cid, options)
    const fetched: Fetched = local != null ? { bytes: local, from: 'local' } : await this.fetchBlock(cid, new ProviderSet(), options)
    let manifest
    try {
      manifest = decodeManifest(fetched.bytes)
    } catch (err) {
      throw new InvalidInputError(`${cidToString(cid)} names a block that is not a DDS manifest: ${(err as Error).message}`, { cause: err })
    }
    options.onProgress?.(new CustomProgressEvent('dds:retrieve:manifest', {
      cid, size: manifest.size, chunks: manifest.chunkCids.length, from: fetched.from
    }))
    return { cid, manifest, providers: fetched.peer != null ? [fetched.peer] : [] }
  }

  async * content (resolved: ResolvedManifest, options: RetrieveOptions = {}): AsyncGenerator<Uint8Array> {
    const { manifest } = resolved
    const providers = new ProviderSet()
    resolved.providers.forEach(p => providers.add(p))
    const controller = new AbortController()
    const signal = options.signal != null ? AbortSignal.any([options.signal, controller.signal]) : controller.signal
    const sessionOptions: RetrieveOptions = { ...options, signal }
    const total = manifest.chunkCids.length
    const window = new Map<number, Promise<Fetched>>()
    const hasher = new ContentHasher()
    let scheduled = 0
    try {
      for (let index = 0; index < total; index++) {
        while (scheduled < total && scheduled < index + this.init.window) {
          const pending = this.fetchChunk(manifest.chunkCids[scheduled]!, providers, sessionOptions)
          pending.catch(() => {})
          window.set(scheduled++, pending)
        }
        const fetched = await window.get(index)!
        window.delete(index)
        throwIfAborted(options.signal, 'retrieve')
        const span = chunkSpan(manifest.size, index)
        if (fetched.bytes.byteLength !== span.length) {
          throw new IntegrityError(`chunk ${index} of ${cidToString(resolved.cid)} has ${fetched.bytes.byteLength} bytes where the manifest's size implies ${span.length}`)
        }
        hasher.update(fetched.bytes)
        if (index === total - 1) {
          this.checkWhole(resolved, hasher)
        }
        options.onProgress?.(new CustomProgressEvent('dds:retrieve:chunk', {
          index, chunks: total, bytes: fetched.bytes.byteLength, from: fetched.from
        }))
        yield fetched.bytes
      }
      if (total === 0) {
        this.checkWhole(resolved, hasher)
      }
    } finally {
      controller.abort(new AbortError('the retrieval ended'))
    }
  }

  private checkWhole (resolved: ResolvedManifest, hasher: ContentHasher): void {
    const { manifest } = resolved
    const digest = hasher.digest()
    if (hasher.size !== manifest.size || !digest.every((b, i) => b === manifest.sha256[i])) {
      throw new IntegrityError(`the content of ${cidToString(resolved.cid)} does not match its manifest's whole-content SHA-256 and size`)
    }
  }

  /**
   * Reads a block from the local store and checks it against its CID: a
   * damaged or tampered store is treated as not holding the block, so the
   * block is fetched from peers instead of handed out unverified.
   */
  private async readLocal (cid: CID, options: RetrieveOptions): Promise<Uint8Array | undefined> {
    const bytes = await this.components.storage.get(cid, options)
    return bytes != null && blockMatchesCid(cid, bytes) ? bytes : undefined
  }

  private async fetchChunk (cid: CID, providers: ProviderSet, options: RetrieveOptions): Promise<Fetched> {
    const local = await this.readLocal(cid, options)
    if (local != null) {
      return { bytes: local, from: 'local' }
    }
    return this.fetchBlock(cid, providers, options)
  }

  /**
   * Gets one block from the retrieval's providers, least loaded first; when
   * all of them failed, searches the DHT for more and tries those. Every block
   * returned was verified against its CID by the network service.
   */
  private async fetchBlock (cid: CID, providers: ProviderSet, options: RetrieveOptions): Promise<Fetched> {
    const tried = new Set<string>()
    const failures = new Failures()
    for (let peer = providers.pick(tried); peer != null; peer = providers.pick(tried)) {
      const bytes = await this.tryPeer(peer, cid, providers, tried, failures, options)
      if (bytes != null) {
        return { bytes, from: peer.toString(), peer }
      }
    }
    const found = await this.searchAndTry(cid, providers, tried, failures, options) ??
      await this.askConnected(cid, providers, tried, failures, options)
    if (found != null) {
      return found
    }
    throwIfAborted(options.signal, 'retrieve')
    if (failures.integrity) {
      throw new IntegrityError(`no peer sent valid bytes for ${cidToString(cid)} (${failures.describe()})`)
    }
    throw new NotFoundError(`no reachable peer holds ${cidToString(cid)} (${failures.describe()}); check that a node holding it is online and connected to this network`)
  }

  private async searchAndTry (cid: CID, providers: ProviderSet, tried: Set<string>, failures: Failures, options: RetrieveOptions): Promise<Fetched | undefined> {
    const timeout = AbortSignal.timeout(this.init.providerTimeoutMs)
    const signal = options.signal != null ? AbortSignal.any([options.signal, timeout]) : timeout
    let count = 0
    try {
      for await (const provider of this.components.discovery.findProviders(cid, this.init.maxProviders, { signal })) {
        const key = provider.peerId.toString()
        if (tried.has(key) || this.components.network.isBanned(provider.peerId)) {
          continue
        }
        count++
        await this.components.addPeerAddresses?.(provider.peerId, provider.multiaddrs)
        providers.add(provider.peerId)
        const bytes = await this.tryPeer(provider.peerId, cid, providers, tried, failures, options)
        if (bytes != null) {
          return { bytes, from: key, peer: provider.peerId }
        }
      }
    } catch (err) {
      if (options.signal?.aborted === true) {
        throw abortReason(options.signal, 'retrieve')
      }
      if (!timeout.aborted) {
        throw err
      }
    } finally {
      options.onProgress?.(new CustomProgressEvent('dds:retrieve:providers', { cid, providers: count }))
    }
    return undefined
  }

  /**
   * The last resort when the DHT named no holder that had the block: asks the
   * peers this node is connected to (a peer that restarted, or one whose
   * announcement has not spread yet, is often among them).
   */
  private async askConnected (cid: CID, providers: ProviderSet, tried: Set<string>, failures: Failures, options: RetrieveOptions): Promise<Fetched | undefined> {
    const peers = (this.components.connectedPeers?.() ?? [])
      .filter(peer => !tried.has(peer.toString()) && !this.components.network.isBanned(peer))
      .slice(0, this.init.maxProviders)
    for (const peer of peers) {
      const bytes = await this.tryPeer(peer, cid, providers, tried, failures, options)
      if (bytes != null) {
        providers.add(peer)
        return { bytes, from: peer.toString(), peer }
      }
    }
    return undefined
  }

  private async tryPeer (peer: PeerId, cid: CID, providers: ProviderSet, tried: Set<string>, failures: Failures, options: RetrieveOptions): Promise<Uint8Array | undefined> {
    tried.add(peer.toString())
    providers.adjustLoad(peer, 1)
    try {
      return await this.components.network.retrieveBlock(peer, cid, { signal: options.signal, timeoutMs: this.init.blockTimeoutMs })
    } catch (err) {
      if (options.signal?.aborted === true) {
        throw abortReason(options.signal, 'retrieve')
      }
      failures.add(peer, err as Error)
      if (err instanceof IntegrityError || err instanceof ProtocolError) {
        providers.drop(peer)
      }
      options.onProgress?.(new CustomProgressEvent('dds:retrieve:provider-failed', { peer: peer.toString(), cid, error: err as Error }))
      return undefined
    } finally {
      providers.adjustLoad(peer, -1)
    }
  }
}
