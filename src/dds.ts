/**
 * The `Dds` class: one DDS node, composed of a store, a libp2p node, the DDS
 * protocol service, DHT discovery and the retrieval engine.
 *
 * @module
 */

import { setMaxListeners } from 'node:events'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import type { AbortOptions, PeerId, PrivateKey } from '@libp2p/interface'
import { CustomProgressEvent, type ProgressEvent, type ProgressOptions } from 'progress-events'
import { cidToString, parseCid, type CID, type CIDLike } from './cid.js'
import { deadlineSignal } from './signals.js'
import {
  AbortError, IntegrityError, InvalidInputError, NotFoundError, NotStartedError, RemoteError, StorageError, TimeoutError,
  abortReason, throwIfAborted
} from './errors.js'
import {
  catalogEntry, localCatalog, DEFAULT_CATALOG_LIMIT,
  type BrowseOptions, type StatOptions, type CatalogEntry, type CatalogOptions, type CatalogPage, type CatalogPageOptions,
  type ContentStat, type DdsStats, type PeerCatalog, type RetrievalOutcomes
} from './catalog.js'
import { assertSupportedRuntime } from './runtime.js'
import { chunkContent, ContentHasher, type ContentInput } from './chunker/index.js'
import { ManifestBuilder, chunkCidsOf, chunkCount, decodeManifest, decodeManifestNode, descriptionOf, DEFAULT_CHUNKS_PER_BLOCK, MAX_MANIFEST_BLOCK_SIZE, type ContentDescription, type Manifest } from './manifest/index.js'
import { replicationManager, resolveReplicationInit, type GcResult, type Pin, type ReplicationInit, type ReplicationManager, type ReplicationStatus } from './replication/index.js'
import { Status } from './pb/index.js'
import { BatchWriter, createStorage, persistentPrivateKey, type StorageProvider } from './storage/index.js'
import { kadDiscovery, type Discovery, type KadDiscoveryInit } from './discovery/index.js'
import { AnnounceQueue } from './discovery/announce-queue.js'
import { createDdsLibp2p, networkService, type DdsLibp2p, type NetworkInit, type NetworkService } from './network/index.js'
import { retrievalService, type RetrievalInit, type RetrievalService, type RetrieveOptions as EngineRetrieveOptions } from './retrieval/index.js'
import {
  DEFAULT_ANNOUNCE, DEFAULT_BOOTSTRAP_TIMEOUT_MS, DEFAULT_BROWSE_TIMEOUT_MS, DEFAULT_CATALOG_PAGE_SIZE, MAX_CATALOG_PAGE_SIZE, DEFAULT_SEED_CONCURRENCY, REANNOUNCE_DELAY_MS
} from './constants.js'

/** Which blocks `publish` announces on the DHT. */
export type AnnounceStrategy = 'all' | 'manifest' | 'none'

/** Options of `Dds.create`. */
export interface DdsInit {
  /**
   * Where blocks are kept: `'memory'`, a directory path for a LevelDB store
   * (created if missing; survives restarts), or your own `StorageProvider`.
   *
   * @default 'memory'
   */
  storage?: 'memory' | string | StorageProvider

  /**
   * Multiaddrs to listen on. Ignored when `libp2p` is given.
   *
   * @default ['/ip4/127.0.0.1/tcp/0']
   */
  listen?: string[]

  /** Multiaddrs (with `/p2p/<peer id>`) of peers to join the network through. */
  bootstrap?: string[]

  /**
   * Multiaddrs (with `/p2p/<peer id>`) of peers that every `publish` pushes
   * its blocks to with StoreChunk, so content has copies before its publisher
   * goes away. Those peers must accept StoreChunk from this node (their
   * `network.storePolicy`).
   */
  seedPeers?: string[]

  /**
   * The node's identity. When omitted, a LevelDB store keeps one (created on
   * first start) so the peer id survives restarts; a memory store gets a new
   * Ed25519 key each start. Ignored when `libp2p` is given.
   */
  privateKey?: PrivateKey

  /**
   * An existing, started libp2p node to run on, with a kad-dht service at
   * `services.dht` (see `createDdsLibp2p`) unless `discovery` is given. DDS
   * registers its protocol on it and leaves it running on `stop()`.
   */
  libp2p?: DdsLibp2p

  /** A Discovery to use instead of the DHT one. */
  discovery?: Discovery

  /**
   * What `publish` announces: the manifest and every chunk (chunks in the
   * background), only the manifest, or nothing.
   *
   * @default 'all'
   */
  announce?: AnnounceStrategy

  /**
   * Chunks per manifest block: content of up to this many chunks gets a
   * single-block manifest, larger content a two-level tree. Leave it alone
   * unless you know why: the manifest CID of larger content depends on it.
   *
   * @default 27593 (the most one 1 MiB block holds: ~6.7 GiB of content)
   */
  manifestChunksPerBlock?: number

  /** How long `create` waits for bootstrap peers to connect and join the DHT, in ms. @default 10000 */
  bootstrapTimeoutMs?: number

  /** Options of the DDS protocol service (limits, store policy). */
  network?: NetworkInit

  /** Options of the retrieval engine. */
  retrieval?: RetrievalInit

  /** Replication: the factor, how often to recheck, and what this node holds for others (`ReplicationInit`). */
  replication?: ReplicationInit

  /** Options of the DHT discovery (timeouts). */
  discoveryOptions?: KadDiscoveryInit
}

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

/** Options of `retrieve`: a signal, a progress listener and an optional byte range (`offset`, `length`). */
export type RetrieveOptions = EngineRetrieveOptions

/**
 * One DDS node.
 *
 * ```ts
 * const node = await Dds.create({ storage: './data', bootstrap: ['/ip4/127.0.0.1/tcp/4001/p2p/12D3KooW...'] })
 * const cid = await node.publish(new TextEncoder().encode('hello'))
 * for await (const bytes of node.retrieve(cid)) { ... }
 * await node.stop()
 * ```
 */
export class Dds {
  /** The libp2p node this node runs on. */
  readonly libp2p: DdsLibp2p
  /** The block store. */
  readonly storage: StorageProvider
  /** The DDS protocol service. */
  readonly network: NetworkService
  /** Announces and finds blocks. */
  readonly discovery: Discovery
  private readonly retrieval: RetrievalService
  /**
   * Keeps pinned content at the replication factor. Listen to its
   * `replication:status` events (`detail` is a `ReplicationStatus`) to follow
   * checks and repairs.
   */
  readonly replication: ReplicationManager
  private readonly factor: number
  private readonly announcer: AnnounceQueue
  private readonly announce: AnnounceStrategy
  private readonly seedPeers: PeerId[]
  private readonly ownsLibp2p: boolean
  private readonly unannounced: Unannounced
  private readonly chunksPerBlock: number
  private readonly onPeerConnect: () => void
  private reannounceTimer?: ReturnType<typeof setTimeout>
  /** Settles when the re-announcement scheduled on a new connection has queued its announcements. */
  private reannouncing?: PromiseWithResolvers<void>
  private running = true
  private readonly providersFound: { count: number }
  private readonly outcomes: RetrievalOutcomes = { ok: 0, notFound: 0, integrity: 0, aborted: 0, timeout: 0, error: 0 }

  private constructor (parts: {
    libp2p: DdsLibp2p, storage: StorageProvider, network: NetworkService, discovery: Discovery,
    retrieval: RetrievalService, announcer: AnnounceQueue, announce: AnnounceStrategy,
    seedPeers: PeerId[], ownsLibp2p: boolean, unannounced: Unannounced, chunksPerBlock: number,
    replication: ReplicationManager, factor: number, providersFound: { count: number }
  }) {
    this.providersFound = parts.providersFound
    this.chunksPerBlock = parts.chunksPerBlock
    this.replication = parts.replication
    this.factor = parts.factor
    this.libp2p = parts.libp2p
    this.storage = parts.storage
    this.network = parts.network
    this.discovery = parts.discovery
    this.retrieval = parts.retrieval
    this.announcer = parts.announcer
    this.announce = parts.announce
    this.seedPeers = parts.seedPeers
    this.ownsLibp2p = parts.ownsLibp2p
    this.unannounced = parts.unannounced
    // Content announced while this node knew no DHT peer is announced again
    // as soon as it connects to one (the DHT itself would wait 24 hours).
    this.onPeerConnect = () => { this.scheduleReannounce() }
    this.libp2p.addEventListener('peer:connect', this.onPeerConnect)
  }

  /**
   * Creates and starts a node: opens the store, starts libp2p (unless one is
   * given), registers the DDS protocol, dials the bootstrap and seed peers.
   *
   * @throws {UnsupportedRuntimeError} on Node.js older than 22
   * @throws {InvalidInputError} on a bad option (the message names it)
   * @throws {StorageError} when the store cannot be opened (e.g. in use by another process)
   * @throws {RemoteError} when bootstrap peers were given and none could be reached
   */
  static async create (init: DdsInit = {}): Promise<Dds> {
    assertSupportedRuntime()
    const announce = init.announce ?? DEFAULT_ANNOUNCE
    if (!['all', 'manifest', 'none'].includes(announce)) {
      throw new InvalidInputError("announce must be 'all', 'manifest' or 'none'")
    }
    const chunksPerBlock = init.manifestChunksPerBlock ?? DEFAULT_CHUNKS_PER_BLOCK
    void new ManifestBuilder(chunksPerBlock) // checks the value before anything starts
    const bootstrap = parsePeerAddrs(init.bootstrap ?? [], 'bootstrap')
    const seeds = parsePeerAddrs(init.seedPeers ?? [], 'seedPeers')
    const storage = createStorage(init.storage ?? 'memory')
    await storage.open()
    let libp2p: DdsLibp2p | undefined
    let network: NetworkService | undefined
    let announcer: AnnounceQueue | undefined
    const ownsLibp2p = init.libp2p == null
    const unannounced = new Unannounced()
    let dds: Dds | undefined
    try {
      libp2p = init.libp2p ?? await createDdsLibp2p({
        listen: init.listen,
        privateKey: init.privateKey ?? await persistentPrivateKey(storage)
      })
      const node = libp2p
      const providersFound = { count: 0 }
      const discovery = countingProviders(init.discovery ?? discoveryFor(node, init.discoveryOptions), providersFound)
      const queue = new AnnounceQueue(discovery)
      announcer = queue
      let replication: ReplicationManager | undefined
      network = networkService({
        ...init.network,
        onBlockStored: (cid, from) => {
          replication?.blockStored(cid, from)
          queue.add([cid])
          init.network?.onBlockStored?.(cid, from)
        },
        onReplicate: async (cid, sources, from, signal) => {
          if (replication == null) {
            return { status: Status.BUSY, error: 'this node is starting' }
          }
          return replication.handleInstruction(cid, sources, from, signal)
        },
        onCatalog: async (after, limit, signal) => {
          if (replication == null) {
            return { items: [], more: false }
          }
          return localCatalog(replication, storage, after != null ? cidToString(after) : undefined, limit, { signal })
        }
      })({ libp2p: node, storage })
      await network.start()
      const addPeerAddresses = async (peer: PeerId, multiaddrs: Multiaddr[]): Promise<void> => {
        if (multiaddrs.length > 0) {
          await node.peerStore.merge(peer, { multiaddrs })
        }
      }
      const retrieval = retrievalService(init.retrieval)({
        network,
        discovery,
        storage,
        connectedPeers: () => node.getPeers(),
        addPeerAddresses
      })
      const created: { dds?: Dds } = {}
      replication = replicationManager(init.replication)({
        peerId: node.peerId,
        storage,
        network,
        discovery,
        retrieval,
        peers: () => node.getPeers(),
        peerFromString: (id) => { try { return peerIdFromString(id) } catch { return undefined } },
        announceContent: (cid) => { created.dds?.announceHeld(cid) },
        addPeerAddresses
      })
      dds = new Dds({
        libp2p: node, storage, network, discovery, retrieval, announcer: queue, announce,
        seedPeers: seeds.map(s => s.peerId), ownsLibp2p, unannounced,
        chunksPerBlock, replication, factor: resolveReplicationInit(init.replication).factor, providersFound
      })
      created.dds = dds
      await dds.join([...bootstrap, ...seeds], bootstrap.length > 0, init.bootstrapTimeoutMs ?? DEFAULT_BOOTSTRAP_TIMEOUT_MS)
      await replication.start()
      return dds
    } catch (err) {
      if (dds != null) {
        await dds.stop().catch(() => {})
        throw err
      }
      announcer?.stop()
      await Promise.resolve(network?.stop()).catch(() => {})
      if (ownsLibp2p) {
        await Promise.resolve(libp2p?.stop()).catch(() => {})
      }
      await storage.close().catch(() => {})
      throw err
    }
  }

  /** This node's peer id, as a string. */
  get peerId (): string {
    return this.libp2p.peerId.toString()
  }

  /** The addresses this node listens on, each ending in `/p2p/<peer id>`. */
  getMultiaddrs (): string[] {
    return this.libp2p.getMultiaddrs().map(ma => ma.toString())
  }

  /** Announcements of published chunks still waiting or running in the background. */
  get pendingAnnouncements (): number {
    return this.announcer.pending
  }

  /**
   * Resolves when every queued announcement has finished, including those
   * made again because a peer connected after they reached nobody.
   */
  async awaitAnnouncements (): Promise<void> {
    await this.reannouncing?.promise
    await this.announcer.onIdle()
  }

  /**
   * Announces again, shortly, what reached no DHT peer: called when a peer
   * connects, and when an announcement reached nobody while this node had
   * connections (their DHT may not have taken the peer into its routing
   * table yet). The re-announcement waits for a DHT peer, up to 10 s.
   */
  private scheduleReannounce (): void {
    if (this.unannounced.size > 0 && this.running) {
      clearTimeout(this.reannounceTimer)
      this.reannouncing ??= Promise.withResolvers<void>()
      this.reannounceTimer = setTimeout(() => {
        this.reannounce().catch(() => {}).finally(() => { this.settleReannouncing() })
      }, REANNOUNCE_DELAY_MS)
      this.reannounceTimer.unref?.()
    }
  }

  private settleReannouncing (): void {
    const pending = this.reannouncing
    this.reannouncing = undefined
    pending?.resolve()
  }

  /**
   * Connects to a peer (a multiaddr string ending in `/p2p/<peer id>`) and
   * waits (up to 10 s) until this node's DHT knows at least one peer.
   *
   * @throws {RemoteError} when the peer cannot be reached
   * @throws {AbortError} when the signal aborts
   */
  async connect (address: string, options: AbortOptions = {}): Promise<void> {
    this.assertRunning()
    const [peer] = parsePeerAddrs([address], 'address')
    await this.join([peer!], true, DEFAULT_BOOTSTRAP_TIMEOUT_MS, options.signal)
  }

  /**
   * Stores content and announces it; resolves to its manifest CID (base58btc).
   *
   * The content is cut into 256 KiB chunks as it streams in (memory stays
   * bounded whatever its size), each chunk is written to the store in batches,
   * then the manifest. The manifest is announced on the DHT before this
   * resolves; with `announce: 'all'` chunk announcements continue in the
   * background (see `awaitAnnouncements`). With `seedPeers`, every block is
   * pushed to them too.
   *
   * If aborted, what was already written stays in the store unreferenced.
   *
   * @throws {InvalidInputError} when `input` is not bytes, an (async) iterable of bytes or a ReadableStream
   * @throws {AbortError} when the signal aborts
   * @throws {RemoteError} when seed peers were configured and none took the content
   */
  async publish (input: ContentInput, options: PublishOptions = {}): Promise<string> {
    this.assertRunning()
    const { cid, size, manifest } = await this.replication.pinWritten(async () => this.store(input, options))
    const cidString = cidToString(cid)
    const chunks = chunkCount(size)
    options.onProgress?.(new CustomProgressEvent('dds:publish:stored', { cid: cidString, size, chunks }))
    if (this.seedPeers.length > 0) {
      await this.seed(() => this.blocksOf(cid, manifest), options)
    }
    if (this.announce !== 'none') {
      const result = await this.discovery.provide(cid, { signal: options.signal }).catch((err: Error) => {
        throwIfAborted(options.signal, 'publish')
        return { peers: 0, error: err }
      })
      this.unannounced.record(cid, result.peers)
      if (result.peers === 0 && this.libp2p.getConnections().length > 0) {
        this.scheduleReannounce()
      }
      options.onProgress?.(new CustomProgressEvent('dds:publish:announced', { cid: cidString, peers: result.peers }))
      if (this.announce === 'all') {
        const blocks = this.blocksOf(cid, manifest)
        this.announcer.addSource(withoutLast(blocks), chunks + (manifest.children?.length ?? 0))
      }
    }
    this.replicateInBackground(cid)
    return cidString
  }

  /**
   * Fetches content (verified) into the local store and pins it, so it stays
   * through `gc()` and is kept at the replication factor. A replica held for
   * another peer becomes a local pin. An interrupted pin resumes at the next
   * start.
   *
   * @throws {InvalidInputError} for a bad CID
   * @throws {NotFoundError} / {IntegrityError} as `retrieve` does
   */
  async pin (cid: CIDLike, options: AbortOptions = {}): Promise<Pin> {
    this.assertRunning()
    const parsed = parseCid(cid)
    const pin = await this.replication.fetchAndPin(parsed, 'local', {}, options.signal)
    this.replicateInBackground(parsed)
    return pin
  }

  /**
   * Removes the pin of `cid` (local or replica). Its blocks stay until the
   * next `gc()`, and then only those no other pin references are removed.
   * Returns false when `cid` was not pinned.
   */
  async unpin (cid: CIDLike): Promise<boolean> {
    this.assertRunning()
    const parsed = parseCid(cid)
    return this.replication.unpin(parsed)
  }

  /** Lists the pins (local and replica) with their sizes and states. */
  async pins (): Promise<Pin[]> {
    this.assertRunning()
    const all: Pin[] = []
    for await (const { manifest: _manifest, ...pin } of this.replication.listPins()) {
      all.push(pin)
    }
    return all
  }

  /** Lists the replicas this node holds for other peers. */
  async replicas (): Promise<Pin[]> {
    return (await this.pins()).filter(pin => pin.kind === 'replica')
  }

  /**
   * Stops holding a replica for others: its pin and manifest go at once (this
   * node stops serving it), its other blocks at the next `gc()`. Returns false
   * if it was not a replica.
   */
  async dropReplica (cid: CIDLike): Promise<boolean> {
    this.assertRunning()
    const parsed = parseCid(cid)
    const pin = await this.replication.getPin(parsed)
    if (pin?.kind !== 'replica') {
      return false
    }
    await this.replication.dropReplica(parsed)
    return true
  }

  /**
   * Removes every stored block that no pin references. Publishes and pin
   * fetches wait while it runs (and it waits for them), so it never removes
   * blocks of content being written.
   */
  async gc (options: AbortOptions = {}): Promise<GcResult> {
    this.assertRunning()
    return this.replication.gc(options.signal)
  }

  /**
   * What the replication manager knows of `cid`'s copies: live holders at
   * the last check, the target, whether repair is running. Pass
   * `{ refresh: true }` to check now.
   */
  async replicationStatus (cid: CIDLike, options: { refresh?: boolean } = {}): Promise<ReplicationStatus | undefined> {
    this.assertRunning()
    const parsed = parseCid(cid)
    if (options.refresh === true) {
      return this.replication.ensureReplication(parsed, [], false)
    }
    return this.replication.status(parsed)
  }

  /** Announces content this node holds: the manifest, then (with `announce: 'all'`) its other blocks in the background. */
  announceHeld (cid: CID): void {
    if (this.announce === 'none' || !this.running) {
      return
    }
    this.announcer.add([cid])
    if (this.announce === 'all') {
      this.storage.get(cid).then(bytes => {
        if (bytes == null || !this.running) {
          return
        }
        const manifest = decodeManifest(bytes)
        this.announcer.addSource(withoutLast(this.blocksOf(cid, manifest)), chunkCount(manifest.size) + (manifest.children?.length ?? 0))
      }).catch(() => {})
    }
  }

  private replicateInBackground (cid: CID): void {
    if (this.factor > 1) {
      this.replication.ensureReplication(cid, [], true).catch(() => {})
    }
  }

  /**
   * Streams the content named by a manifest CID, verified: every chunk is
   * checked against its CID before it is yielded, and the whole-content
   * SHA-256 and size are checked before the last chunk is yielded. The
   * content comes in arrays of any size, in order (a chunk fetched from a
   * peer comes in the pieces it arrived in, so it is never copied to be
   * joined); nothing is yielded after the signal aborts. Local
   * blocks are read from the store; missing ones are fetched from peers found
   * on the DHT (or, when it names none that has them, from connected peers).
   * Fetched blocks are not stored unless `store: true` is passed (they are
   * then kept unpinned, for the next `gc()` to remove; use `pin()` to keep
   * content).
   *
   * @throws {InvalidInputError} at once, when `cid` is not a valid DDS CID
   * @throws {NotFoundError} when no reachable peer holds the content (after `retrieval.providerTimeoutMs`)
   * @throws {IntegrityError} when no peer sent valid bytes, or the content does not match its manifest
   * @throws {AbortError} when the signal aborts; every request in flight is released
   */
  retrieve (cid: CIDLike, options: RetrieveOptions = {}): AsyncIterable<Uint8Array> {
    this.assertRunning()
    const parsed = parseCid(cid)
    const retrieval = this.retrieval
    const outcomes = this.outcomes
    return {
      async * [Symbol.asyncIterator] () {
        // a consumer that stops reading early counts as an abort
        let outcome: keyof RetrievalOutcomes = 'aborted'
        try {
          const resolved = await retrieval.resolveManifest(parsed, options)
          yield * retrieval.content(resolved, options)
          outcome = 'ok'
        } catch (err) {
          outcome = outcomeOf(err)
          throw err
        } finally {
          outcomes[outcome]++
        }
      }
    }
  }

  /**
   * Retrieves content into one `Uint8Array`. Convenient for small content;
   * use `retrieve` to stream anything large.
   */
  async retrieveBytes (cid: CIDLike, options: RetrieveOptions = {}): Promise<Uint8Array> {
    const parts: Uint8Array[] = []
    let length = 0
    for await (const part of this.retrieve(cid, options)) {
      parts.push(part)
      length += part.byteLength
    }
    const out = new Uint8Array(length)
    let offset = 0
    for (const part of parts) {
      out.set(part, offset)
      offset += part.byteLength
    }
    return out
  }

  /** True when the block named by `cid` is in the local store. */
  async has (cid: CIDLike, options: AbortOptions = {}): Promise<boolean> {
    this.assertRunning()
    return this.storage.has(parseCid(cid), options)
  }

  /**
   * Tells what content is without fetching it: size, chunk count, name,
   * media type and metadata from its manifest (read locally or fetched, the
   * manifest alone), whether every block is held here, and how it is pinned.
   *
   * Finding `local` reads the store once per block (a few ms per GiB of
   * content); pass `{ checkLocal: false }` to skip it when only the
   * description and size are wanted (`local` is then left out).
   *
   * @throws {InvalidInputError} for a bad CID, or a CID that names a block that is not a manifest
   * @throws {NotFoundError} when no reachable peer holds the manifest (after `retrieval.providerTimeoutMs`)
   * @throws {AbortError} when the signal aborts
   */
  async stat (cid: CIDLike, options: StatOptions = {}): Promise<ContentStat> {
    this.assertRunning()
    const parsed = parseCid(cid)
    const resolved = await this.retrieval.resolveManifest(parsed, { signal: options.signal })
    resolved.feed?.stop()
    const { manifest } = resolved
    const pin = await this.replication.getPin(parsed)
    return {
      cid: cidToString(parsed),
      size: manifest.size,
      chunks: chunkCount(manifest.size),
      ...descriptionOf(manifest),
      ...(options.checkLocal !== false ? { local: await this.holdsAll(parsed, manifest, options) } : {}),
      ...(pin != null ? { pin: pin.kind } : {})
    }
  }

  /** True when the manifest, every tree node and every chunk of the content are in the local store. */
  private async holdsAll (cid: CID, manifest: Manifest, options: AbortOptions): Promise<boolean> {
    if (!(await this.storage.has(cid, options))) {
      return false
    }
    const missing = new Error('missing')
    try {
      for await (const chunk of chunkCidsOf(manifest, async (nodeCid, _node, expected) => {
        const bytes = await this.storage.get(nodeCid, options)
        if (bytes == null) {
          throw missing
        }
        return decodeManifestNode(bytes, expected)
      })) {
        if (!(await this.storage.has(chunk, options))) {
          return false
        }
      }
    } catch (err) {
      if (err === missing) {
        return false
      }
      throw err
    }
    return true
  }

  /**
   * Lists a catalog: this node's own (its published and pinned content with
   * descriptions) when `peer` is omitted or is this node, otherwise the
   * catalog `peer` shares, asked for page by page over the DDS protocol.
   *
   * @throws {InvalidInputError} for a bad peer id or limit
   * @throws {RejectedError} when the peer's catalog policy refuses this node
   * @throws {RemoteError} / {TimeoutError} when the peer cannot be reached or does not answer
   * @throws {ProtocolError} when the peer sends invalid entries
   */
  async catalog (peer?: string | PeerId, options: CatalogOptions = {}): Promise<CatalogEntry[]> {
    this.assertRunning()
    const limit = options.limit ?? DEFAULT_CATALOG_LIMIT
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw new InvalidInputError(`limit must be a positive integer, got ${String(options.limit)}`)
    }
    const entries: CatalogEntry[] = []
    let after: string | undefined
    while (entries.length < limit) {
      const page = await this.catalogPage(peer, { after, limit: Math.min(limit - entries.length, MAX_CATALOG_PAGE_SIZE), signal: options.signal })
      entries.push(...page.entries)
      if (page.next == null || page.entries.length === 0) {
        break
      }
      after = page.next
    }
    return entries
  }

  /**
   * One page of a catalog (see `catalog`): up to `limit` entries after the
   * CID `after`. A page past the end is empty.
   *
   * @throws as `catalog` does
   */
  async catalogPage (peer?: string | PeerId, options: CatalogPageOptions = {}): Promise<CatalogPage> {
    this.assertRunning()
    const limit = options.limit ?? DEFAULT_CATALOG_PAGE_SIZE
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_CATALOG_PAGE_SIZE) {
      throw new InvalidInputError(`limit must be an integer from 1 to ${MAX_CATALOG_PAGE_SIZE}, got ${String(options.limit)}`)
    }
    const after = options.after != null ? parseCid(options.after) : undefined
    const target = peer != null ? toPeerId(peer) : undefined
    const page = target == null || target.equals(this.libp2p.peerId)
      ? await localCatalog(this.replication, this.storage, after != null ? cidToString(after) : undefined, limit, options)
      : await this.network.catalog(target, { after, limit, signal: options.signal })
    const entries = page.items.map(catalogEntry)
    const last = entries.at(-1)
    return { entries, ...(page.more && last != null ? { next: last.cid } : {}) }
  }

  /**
   * Gathers the catalogs of every connected peer, at once, each within
   * `timeoutMs`. A peer that refuses or fails is listed with its `error`.
   */
  async browse (options: BrowseOptions = {}): Promise<PeerCatalog[]> {
    this.assertRunning()
    const timeoutMs = options.timeoutMs ?? DEFAULT_BROWSE_TIMEOUT_MS
    if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) {
      throw new InvalidInputError(`timeoutMs must be a positive number, got ${String(options.timeoutMs)}`)
    }
    const peers = this.libp2p.getPeers()
    return Promise.all(peers.map(async (peer): Promise<PeerCatalog> => {
      const signal = options.signal != null
        ? AbortSignal.any([options.signal, AbortSignal.timeout(timeoutMs)])
        : AbortSignal.timeout(timeoutMs)
      try {
        return { peer: peer.toString(), entries: await this.catalog(peer, { limit: options.limit, signal }) }
      } catch (err) {
        throwIfAborted(options.signal, 'browse')
        return { peer: peer.toString(), entries: [], error: err as Error }
      }
    }))
  }

  /** The peers this node is connected to, with the addresses of their connections. */
  peers (): Array<{ peer: string, addrs: string[] }> {
    const byPeer = new Map<string, string[]>()
    for (const connection of this.libp2p.getConnections()) {
      const id = connection.remotePeer.toString()
      const addrs = byPeer.get(id) ?? []
      addrs.push(connection.remoteAddr.toString())
      byPeer.set(id, addrs)
    }
    return [...byPeer].map(([peer, addrs]) => ({ peer, addrs }))
  }

  /** Counters since this node started: blocks served and fetched, retrievals by outcome, providers found, peers. */
  stats (): DdsStats {
    return {
      chunksServed: this.network.served.blocks,
      bytesServed: this.network.served.bytes,
      chunksFetched: this.retrieval.fetched.chunks,
      bytesFetched: this.retrieval.fetched.bytes,
      retrievals: { ...this.outcomes },
      providersFound: this.providersFound.count,
      peers: this.libp2p.getPeers().length
    }
  }

  /** Stops the node: the protocol, background announcements, libp2p (if DDS created it) and the store. */
  async stop (): Promise<void> {
    if (!this.running) {
      return
    }
    this.running = false
    await this.replication.stop()
    clearTimeout(this.reannounceTimer)
    this.settleReannouncing()
    this.libp2p.removeEventListener('peer:connect', this.onPeerConnect)
    this.announcer.stop()
    try {
      await this.network.stop()
      if (this.ownsLibp2p) {
        await this.libp2p.stop()
      }
    } finally {
      await this.storage.close()
    }
  }

  /** Queues again every announcement that reached no DHT peer, once the DHT knows one. */
  private async reannounce (): Promise<void> {
    const ready = await this.discovery.waitForPeers?.({ signal: AbortSignal.timeout(DEFAULT_BOOTSTRAP_TIMEOUT_MS) }) ?? true
    if (ready && this.running) {
      for (const cid of this.unannounced.take()) {
        this.announceHeld(cid)
      }
    }
  }

  private assertRunning (): void {
    if (!this.running) {
      throw new NotStartedError('this DDS node was stopped; create a new one with Dds.create()')
    }
  }

  /**
   * Chunks, hashes and stores content and its manifest (and, for large
   * content, the nodes of its manifest tree) in batches, holding at most one
   * manifest block's worth of chunk CIDs.
   */
  private async store (input: ContentInput, options: PublishOptions): Promise<{ cid: CID, size: number, manifest: Manifest }> {
    const hasher = new ContentHasher()
    const builder = new ManifestBuilder(this.chunksPerBlock, { name: options.name, mediaType: options.mediaType, metadata: options.metadata })
    const writer = new BatchWriter(this.storage, options.signal)
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

  /** Every block of stored content: chunks, then tree nodes, then the manifest; read from the local store as it goes. */
  private async * blocksOf (cid: CID, manifest: Manifest): AsyncGenerator<CID> {
    yield * chunkCidsOf(manifest, async (nodeCid, _node, expected) => {
      const bytes = await this.storage.get(nodeCid)
      if (bytes == null) {
        throw new StorageError(`manifest node ${cidToString(nodeCid)} vanished from the local store`)
      }
      return decodeManifestNode(bytes, expected)
    })
    yield * manifest.children ?? []
    yield cid
  }

  /** Pushes blocks to every seed peer with StoreChunk; fails only if no seed took them all. */
  private async seed (blocks: () => AsyncIterable<CID>, options: PublishOptions): Promise<void> {
    const errors: string[] = []
    // every StoreChunk in flight listens to this one signal, not to the caller's
    const linked = deadlineSignal(options.signal)
    setMaxListeners(Infinity, linked.signal)
    const signal = linked.signal
    await Promise.all(this.seedPeers.map(async (peer) => {
      try {
        let count = 0
        await runLimited(blocks(), DEFAULT_SEED_CONCURRENCY, async (cid) => {
          count++
          const bytes = await this.storage.get(cid, options)
          if (bytes == null) {
            throw new RemoteError(`block ${cidToString(cid)} vanished from the local store`)
          }
          await this.network.storeBlock(peer, cid, bytes, { signal })
        })
        options.onProgress?.(new CustomProgressEvent('dds:publish:seeded', { peer: peer.toString(), blocks: count }))
      } catch (err) {
        throwIfAborted(options.signal, 'publish')
        errors.push(`${peer.toString()}: ${(err as Error).message}`)
        options.onProgress?.(new CustomProgressEvent('dds:publish:seed-failed', { peer: peer.toString(), error: err as Error }))
      }
    })).finally(() => { linked.clear() })
    if (errors.length === this.seedPeers.length) {
      throw new RemoteError(`the content is stored locally, but no seed peer took it: ${errors.join('; ')}`)
    }
  }

  /** Dials peers and waits until the DHT knows at least one of them. */
  private async join (peers: ParsedPeerAddr[], required: boolean, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (peers.length === 0) {
      return
    }
    const deadline = AbortSignal.timeout(timeoutMs)
    const combined = signal != null ? AbortSignal.any([signal, deadline]) : deadline
    const results = await Promise.allSettled(peers.map(async p => this.libp2p.dial(p.multiaddr, { signal: combined })))
    const failures = results.flatMap((r, i) => r.status === 'rejected' ? [`${peers[i]!.text}: ${(r.reason as Error).message}`] : [])
    if (signal?.aborted === true) {
      throw abortReason(signal, 'connect')
    }
    if (failures.length === peers.length && required) {
      throw new RemoteError(`could not reach any of the given peers (${failures.join('; ')})`)
    }
    await this.discovery.waitForPeers?.({ signal: combined })
    // starts a refresh in the background (bounded by the same deadline)
    await this.libp2p.services.dht?.refreshRoutingTable({ signal: combined }).catch(() => {})
  }
}

interface ParsedPeerAddr {
  text: string
  multiaddr: Multiaddr
  peerId: PeerId
}

function parsePeerAddrs (addrs: string[], option: string): ParsedPeerAddr[] {
  if (!Array.isArray(addrs)) {
    throw new InvalidInputError(`${option} must be an array of multiaddr strings`)
  }
  return addrs.map(text => {
    let ma: Multiaddr
    try {
      ma = multiaddr(text)
    } catch (err) {
      throw new InvalidInputError(`${option}: "${String(text)}" is not a multiaddr`, { cause: err })
    }
    const id = ma.getComponents().findLast(c => c.name === 'p2p')?.value
    if (id == null) {
      throw new InvalidInputError(`${option}: "${text}" has no /p2p/<peer id> part; add the peer's id`)
    }
    return { text, multiaddr: ma, peerId: peerIdFromString(id) }
  })
}

function discoveryFor (node: DdsLibp2p, init?: KadDiscoveryInit): Discovery {
  if (node.services.dht == null) {
    throw new InvalidInputError('the given libp2p node has no kad-dht service at services.dht; add ddsDht() or pass a discovery')
  }
  return kadDiscovery(init)({ dht: node.services.dht, peerId: node.peerId })
}

/** Runs `task` over what `items` yields, at most `limit` at once; on the first failure no new task starts and it rejects. */
function toPeerId (peer: string | PeerId): PeerId {
  if (typeof peer !== 'string') {
    return peer
  }
  try {
    return peerIdFromString(peer)
  } catch (err) {
    throw new InvalidInputError(`${JSON.stringify(peer.slice(0, 100))} is not a peer id: ${(err as Error).message}`, { cause: err })
  }
}

function outcomeOf (err: unknown): keyof RetrievalOutcomes {
  if (err instanceof NotFoundError) {
    return 'notFound'
  }
  if (err instanceof IntegrityError) {
    return 'integrity'
  }
  if (err instanceof AbortError) {
    return 'aborted'
  }
  if (err instanceof TimeoutError) {
    return 'timeout'
  }
  return 'error'
}

/** The discovery, counting the provider records its lookups find. */
function countingProviders (discovery: Discovery, found: { count: number }): Discovery {
  return new Proxy(discovery, {
    get (target, property) {
      if (property === 'findProviders') {
        return async function * (...args: Parameters<Discovery['findProviders']>) {
          for await (const provider of target.findProviders(...args)) {
            found.count++
            yield provider
          }
        }
      }
      const value = Reflect.get(target, property, target)
      return typeof value === 'function' ? value.bind(target) : value
    }
  })
}

async function runLimited<T> (items: AsyncIterable<T>, limit: number, task: (item: T) => Promise<void>): Promise<void> {
  const iterator = items[Symbol.asyncIterator]()
  let failed = false
  let reading = Promise.resolve()
  const nextItem = async (): Promise<IteratorResult<T>> => {
    // one read at a time: async generators do not allow concurrent next()
    const result = reading.then(async () => iterator.next())
    reading = result.then(() => {}, () => {})
    return result
  }
  const worker = async (): Promise<void> => {
    while (!failed) {
      const next = await nextItem()
      if (next.done === true) {
        return
      }
      try {
        await task(next.value)
      } catch (err) {
        failed = true
        throw err
      }
    }
  }
  const results = await Promise.allSettled(Array.from({ length: limit }, worker))
  if (failed) {
    await iterator.return?.()
  }
  const rejected = results.find(r => r.status === 'rejected')
  if (rejected != null) {
    throw rejected.reason
  }
}

/** Every CID a source yields but the last (the manifest, which `publish` announces itself). */
async function * withoutLast (source: AsyncIterable<CID>): AsyncGenerator<CID> {
  let previous: CID | undefined
  for await (const cid of source) {
    if (previous != null) {
      yield previous
    }
    previous = cid
  }
}

/**
 * Manifest CIDs whose announcement reached no DHT peer (this node knew none),
 * to be announced again, with their blocks, once it does. Holds manifest CIDs
 * only; the blocks are read back from the store when they are announced.
 */
class Unannounced {
  private readonly cids = new Map<string, CID>()

  get size (): number {
    return this.cids.size
  }

  record (cid: CID, peers: number): void {
    if (peers > 0) {
      this.cids.delete(cidToString(cid))
    } else {
      this.cids.set(cidToString(cid), cid)
    }
  }

  take (): CID[] {
    const all = [...this.cids.values()]
    this.cids.clear()
    return all
  }
}
