/**
 * The `Dds` class: one DDS node, a facade whose verbs each pass on to the
 * part that does the work; compose.ts builds and wires the parts.
 *
 * @module
 */

import type { AbortOptions, PeerId } from '@libp2p/interface'
import { cidToString, parseCid, type CIDLike } from './cid.js'
import { checkDescription, type CollectionEntry } from './manifest/index.js'
import { concatBytes } from './bytes.js'
import { NotStartedError } from './errors.js'
import { assertSupportedRuntime } from './runtime.js'
import type { ContentInput } from './chunker/index.js'
import type { StorageProvider } from './storage/index.js'
import type { Discovery } from './discovery/index.js'
import type { DdsLibp2p, NetworkService } from './network/index.js'
import { collectionEntries, collectionEntry, type RetrieveOptions } from './retrieval/index.js'
import type { GcResult, Pin, PinInfo, PinOptions, RepoStat, ReplicationManager, ReplicationStatus } from './replication/index.js'
import { splitInput, type CollectionSource, type PublishOptions } from './publish/index.js'
import type { BrowseOptions, CatalogEntry, CatalogOptions, CatalogPage, CatalogPageOptions, ContentStat, PeerCatalog, StatOptions } from './catalog/index.js'
import type { DdsStats } from './stats/index.js'
import type { CarSource, ExportCarOptions, ImportCarOptions } from './car/index.js'
import { DEFAULT_BOOTSTRAP_TIMEOUT_MS, connectedPeers, join, parsePeerAddrs, type ConnectedPeer } from './join/index.js'
import { composeNode, stopParts, type DdsInit, type DdsParts } from './compose.js'

export type { DdsInit } from './compose.js'
export type { AnnounceStrategy } from './announce/index.js'
export type { PublishOptions, PublishProgressEvents, CollectionInput, CollectionSource } from './publish/index.js'
export type { RetrieveOptions } from './retrieval/index.js'
export type { CarSource, ExportCarOptions, ExportCarProgressEvents, ImportCarOptions, ImportCarProgressEvents } from './car/index.js'

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
  /** The block store, through which the node uses whatever store it was given (with its record tables). */
  readonly storage: StorageProvider
  /** The DDS protocol service. */
  readonly network: NetworkService
  /** Announces and finds blocks. */
  readonly discovery: Discovery
  /**
   * Keeps pinned content at the replication factor. Listen to its
   * `replication:status` events (`detail` is a `ReplicationStatus`) to follow
   * checks and repairs.
   */
  readonly replication: ReplicationManager
  private readonly parts: DdsParts
  private running = true

  private constructor (parts: DdsParts) {
    this.parts = parts
    this.libp2p = parts.libp2p
    this.storage = parts.storage
    this.network = parts.network
    this.discovery = parts.discovery
    this.replication = parts.replication
  }

  /**
   * Creates and starts a node: opens the store, starts libp2p (unless one is
   * given), registers the DDS protocol, dials the bootstrap and seed peers.
   *
   * @throws {UnsupportedRuntimeError} on Node.js older than 22
   * @throws {InvalidInputError} on a bad option (the message names it), such as a blockstore without a datastore
   * @throws {StorageError} when the store cannot be opened (e.g. in use by another process)
   * @throws {RemoteError} when bootstrap peers were given and none could be reached
   */
  static async create (init: DdsInit = {}): Promise<Dds> {
    assertSupportedRuntime()
    return new Dds(await composeNode(init))
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
    return this.parts.announcer.pending
  }

  /**
   * Resolves when every queued announcement has finished, including those
   * made again because a peer connected after they reached nobody.
   */
  async awaitAnnouncements (): Promise<void> {
    await this.parts.announcer.onIdle()
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
    await join(this.parts, parsePeerAddrs([address], 'address'), { required: true, timeoutMs: DEFAULT_BOOTSTRAP_TIMEOUT_MS, signal: options.signal })
  }

  /**
   * Stores content and announces it; resolves to its manifest CID (base58btc).
   *
   * The content is cut into 256 KiB chunks as it streams in (memory stays
   * bounded whatever its size), each chunk is written to the store in batches,
   * then the manifest. The manifest is announced on the DHT before this
   * resolves; a collection's entries (and every chunk, with `announce:
   * 'all'`) are announced in the background (see `awaitAnnouncements`). With `seedPeers`, every block is
   * pushed to them too.
   *
   * If aborted, what was already written stays in the store unreferenced.
   *
   * Given entries (`{ path, content }` or `{ path, cid }` of content held
   * here, as an array or an (async) iterable), it publishes a collection: a
   * folder or an album, every entry's content and then the list of entries
   * as one content, whose CID names the whole (see "Folders and albums" in
   * the README). It is pinned, seeded, announced and replicated as one unit.
   * `options` then describe the collection (an album's name).
   *
   * @throws {InvalidInputError} when `input` is not bytes, an (async) iterable of bytes or a ReadableStream, nor entries; for an entry with a bad or repeated path
   * @throws {AbortError} when the signal aborts
   * @throws {RemoteError} when seed peers were configured and none took the content
   */
  async publish (input: ContentInput | CollectionSource, options: PublishOptions = {}): Promise<string> {
    this.assertRunning()
    // a bad description is refused before any input is read
    checkDescription({ name: options.name, mediaType: options.mediaType, metadata: options.metadata })
    const split = await splitInput(input)
    return split.kind === 'collection'
      ? this.parts.publisher.publishCollection(split.entries, options)
      : this.parts.publisher.publish(split.input, options)
  }

  /**
   * The entries of a collection (path, content CID, size and description of
   * each, in path order), its list fetched and verified like any content.
   *
   * @throws {InvalidInputError} for a bad CID, or content that is not a collection
   * Other errors as for `retrieve`.
   */
  async list (cid: CIDLike, options: RetrieveOptions = {}): Promise<CollectionEntryInfo[]> {
    this.assertRunning()
    return (await collectionEntries(this.parts.retrieval, parseCid(cid), options)).map(entryInfo)
  }

  /**
   * Fetches content (verified) into the local store and pins it, so it stays
   * through `gc()` and is kept at the replication factor. A replica held for
   * another peer becomes a local pin. An interrupted pin resumes at the next
   * start. `onProgress` gets `dds:pin:progress` events as the content comes
   * in (bytes and chunks in the store so far).
   *
   * @throws {InvalidInputError} for a bad CID
   * @throws {NotFoundError} / {IntegrityError} as `retrieve` does
   */
  async pin (cid: CIDLike, options: PinOptions = {}): Promise<Pin> {
    this.assertRunning()
    return this.replication.pin(parseCid(cid), options)
  }

  /**
   * Removes the pin of `cid` (local or replica). Its blocks stay until the
   * next `gc()`, and then only those no other pin references are removed.
   * Returns false when `cid` was not pinned.
   */
  async unpin (cid: CIDLike): Promise<boolean> {
    this.assertRunning()
    return this.replication.unpin(parseCid(cid))
  }

  /** Lists the pins (local and replica) with their sizes, states and content names. */
  async pins (): Promise<PinInfo[]> {
    this.assertRunning()
    return this.replication.describePins()
  }

  /** Lists the replicas this node holds for other peers. */
  async replicas (): Promise<PinInfo[]> {
    return (await this.pins()).filter(pin => pin.kind === 'replica')
  }

  /** The store's size, what is pinned, what is held for others, and the replica quota's use in all and per peer. */
  async repoStat (): Promise<RepoStat> {
    this.assertRunning()
    return this.replication.repoStat()
  }

  /**
   * Stops holding a replica for others: its pin and manifest go at once (this
   * node stops serving it), its other blocks at the next `gc()`. Returns false
   * if it was not a replica.
   */
  async dropReplica (cid: CIDLike): Promise<boolean> {
    this.assertRunning()
    return this.replication.dropReplica(parseCid(cid))
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
    return options.refresh === true ? this.replication.ensureReplication(parsed, [], false) : this.replication.status(parsed)
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
   * With `path`, `cid` names a collection and the entry at that path is
   * retrieved (a `NotFoundError` when there is none).
   *
   * @throws {AbortError} when the signal aborts; every request in flight is released
   */
  retrieve (cid: CIDLike, options: RetrieveOptions = {}): AsyncIterable<Uint8Array> {
    this.assertRunning()
    const parsed = parseCid(cid)
    const { retrieval } = this.parts
    return this.parts.counts.countRetrieval(async function * () {
      const target = options.path != null ? (await collectionEntry(retrieval, parsed, options.path, options)).cid : parsed
      yield * retrieval.content(await retrieval.resolveManifest(target, options), options)
    })
  }

  /**
   * Retrieves content into one `Uint8Array`. Convenient for small content;
   * use `retrieve` to stream anything large.
   */
  async retrieveBytes (cid: CIDLike, options: RetrieveOptions = {}): Promise<Uint8Array> {
    return concatBytes(this.retrieve(cid, options))
  }

  /**
   * Streams the content named by `cid` as a CARv1 file: a header naming
   * `cid` as its root, the manifest, then every chunk in content order (for
   * a manifest tree, each node before the chunks it lists). The chunks are
   * IPFS raw leaves, so IPFS tools (`ipfs dag import`, `@helia/car`,
   * `@ipld/car`) read them as they are. Blocks are read from the local store
   * a few at a time and checked against their CIDs on the way out: memory
   * stays flat whatever the content's size (`verify: false` skips the
   * check of the chunks, see `ExportCarOptions.verify`). A chunk the content
   * lists twice is written once unless `duplicates: true`; `scope: 'block'`
   * exports the one block `cid` names (a chunk too).
   *
   * Only content this node holds whole is exported: it is checked before the
   * first byte is yielded, and content held in part or not at all is a
   * `NotFoundError` (pin it first: `pin()` fetches it from peers).
   *
   * @throws {InvalidInputError} at once, when `cid` is not a valid DDS CID; when iterated, when it names a block that is not a manifest (and `scope` is not `'block'`)
   * @throws {NotFoundError} when a block of the content is not in the local store
   * @throws {IntegrityError} when a stored block does not match its CID (a damaged store)
   * @throws {AbortError} when the signal aborts
   */
  exportCar (cid: CIDLike, options: ExportCarOptions = {}): AsyncIterable<Uint8Array> {
    this.assertRunning()
    return this.parts.car.export(parseCid(cid), options)
  }

  /**
   * Imports a CAR file (CARv1 or CARv2) of DDS content, such as `exportCar`
   * writes, from bytes or a stream of them (a file read stream, an HTTP
   * body), and resolves to the CIDs of its roots (base58btc). The CAR is read
   * as it streams, one block at a time; every block is checked against its
   * CID and written to the store in batches. Then every root must be a DDS
   * manifest whose every block (tree nodes and chunks) is in the store, from
   * the CAR or held before. Only then are the roots pinned, announced and
   * replicated, as `publish` does.
   *
   * If the import fails, nothing is pinned; blocks already written stay in
   * the store unreferenced until the next `gc()`.
   *
   * @throws {InvalidInputError} when the data is not a CAR, is cut short, holds a block that is not a DDS block (or is larger than one can be), names no root, a root that is not a DDS manifest, or lacks a block of a root's content
   * @throws {IntegrityError} when a block does not match its CID
   * @throws {AbortError} when the signal aborts
   */
  async importCar (source: CarSource, options: ImportCarOptions = {}): Promise<string[]> {
    this.assertRunning()
    return this.parts.car.import(source, options)
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
    return this.parts.catalog.stat(parseCid(cid), options)
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
    return this.parts.catalog.list(peer, options)
  }

  /**
   * One page of a catalog (see `catalog`): up to `limit` entries after the
   * CID `after`. A page past the end is empty.
   *
   * @throws as `catalog` does
   */
  async catalogPage (peer?: string | PeerId, options: CatalogPageOptions = {}): Promise<CatalogPage> {
    this.assertRunning()
    return this.parts.catalog.page(peer, options)
  }

  /**
   * Gathers the catalogs of every connected peer, at once, each within
   * `timeoutMs`. A peer that refuses or fails is listed with its `error`.
   */
  async browse (options: BrowseOptions = {}): Promise<PeerCatalog[]> {
    this.assertRunning()
    return this.parts.catalog.browse(options)
  }

  /**
   * The peers this node is connected to, with the addresses of their
   * connections and whether each goes through a relay.
   */
  peers (): ConnectedPeer[] {
    return connectedPeers(this.libp2p)
  }

  /** Counters since this node started: blocks served and fetched, retrievals by outcome, providers found, peers. */
  stats (): DdsStats {
    return this.parts.counts.stats({ network: this.network, retrieval: this.parts.retrieval, announcer: this.parts.announcer, peers: () => this.libp2p.getPeers() })
  }

  /** Stops the node: the protocol, background announcements, libp2p (if DDS created it) and the store. */
  async stop (): Promise<void> {
    if (this.running) {
      this.running = false
      await stopParts(this.parts)
    }
  }

  private assertRunning (): void {
    if (!this.running) {
      throw new NotStartedError('this DDS node was stopped; create a new one with Dds.create()')
    }
  }
}

/** One entry of a collection, as `Dds.list` gives it. */
export interface CollectionEntryInfo {
  /** Its path in the collection, e.g. `disc 1/01 intro.flac`. */
  path: string
  /** The manifest CID of its content, base58btc. */
  cid: string
  size: number
  name?: string
  mediaType?: string
  metadata?: Record<string, string>
}

function entryInfo (entry: CollectionEntry): CollectionEntryInfo {
  return { ...entry, cid: cidToString(entry.cid) }
}
