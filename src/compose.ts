/**
 * What `Dds.create` builds: the options of a node and how its parts are
 * wired, each given only the components it uses.
 *
 * @module
 */

import type { AbortOptions, ComponentLogger, PeerId, PrivateKey } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { InvalidInputError } from './errors.js'
import { cidToString } from './cid.js'
import { nodeStorage, persistentPrivateKey, type Blockstore, type Datastore, type StorageProvider } from './storage/index.js'
import { kadDiscovery, type Discovery, type KadDiscoveryInit } from './discovery/index.js'
import { BandwidthLimiter, createDdsLibp2p, networkService, type BandwidthInit, type DdsLibp2p, type NatInit, type NetworkInit, type NetworkService, type RelayInit } from './network/index.js'
import { retrievalService, type RetrievalInit, type RetrievalService } from './retrieval/index.js'
import { replicationManager, type ReplicationInit, type ReplicationManager } from './replication/index.js'
import { announcer, type AnnounceStrategy, type Announcer } from './announce/index.js'
import { publisher, type Publisher } from './publish/index.js'
import { carService, type CarService } from './car/index.js'
import { catalog, localCatalog, type Catalog } from './catalog/index.js'
import { NodeStats } from './stats/index.js'
import { componentLog, errorText, type DdsLogger } from './log/index.js'
import { DEFAULT_BOOTSTRAP_TIMEOUT_MS, join, parsePeerAddrs } from './join/index.js'

/** Options of `Dds.create`. */
export interface DdsInit {
  /**
   * Where blocks and the node's records (pins, identity) are kept:
   * `'memory'`, or a directory path for a LevelDB store (created if missing;
   * survives restarts with its peer id and pins). To use stores of your own,
   * pass `blockstore` and `datastore` instead.
   *
   * A `StorageProvider` of your own is still accepted: one that keeps no
   * records (`records()`) needs a `datastore` beside it. DDS closes a
   * provider it is given when the node stops.
   *
   * @default 'memory'
   */
  storage?: 'memory' | string | StorageProvider

  /**
   * Any interface-blockstore `Blockstore` (blockstore-fs, blockstore-level,
   * blockstore-s3, ...) to keep the blocks in, instead of `storage`. It
   * needs a `datastore` beside it: `Dds.create` refuses a blockstore alone
   * with `InvalidInputError`, because the pins and identity would otherwise
   * live in memory and `gc()` after a restart would delete what the node
   * published. The blockstore must be this node's alone (`gc()` removes
   * every block no pin of the node references). DDS opens it (its `open()`,
   * when it has one) and leaves it open when the node stops: close it
   * yourself after `stop()`.
   */
  blockstore?: Blockstore

  /**
   * Any interface-datastore `Datastore` (datastore-level, ...) for the
   * node's records, under the `/dds/` namespace: pins (`/dds/pins/<cid>`),
   * its identity (`/dds/identity/private-key`, unencrypted, used unless
   * `privateKey` is given) and the blockstore's counters
   * (`/dds/storage/stats`). Goes with `blockstore` (or with a
   * `StorageProvider` of your own that keeps no records). Opened and left
   * open as the blockstore is.
   */
  datastore?: Datastore

  /**
   * Multiaddrs to listen on. Ignored when `libp2p` is given.
   *
   * @default ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/udp/0/quic-v1']
   */
  listen?: string[]

  /**
   * Addresses this node tells other peers instead of the ones it listens on:
   * the public side of a port forward, a `/dns4/<name>/tcp/<port>` name, a
   * container's published port. Ignored when `libp2p` is given.
   *
   * @default [] (the listen addresses, and a port UPnP mapped)
   */
  announceAddrs?: string[]

  /**
   * NAT traversal (a relay reservation when the node is not
   * publicly reachable, hole punching, UPnP when listening beyond loopback):
   * see `DdsLibp2pInit.nat`. Ignored when `libp2p` is given.
   *
   * @default true
   */
  nat?: boolean | NatInit

  /**
   * Serving relay reservations for nodes that are not publicly reachable
   * (`{ server: true }` on a public node). Ignored when `libp2p` is given.
   */
  relay?: RelayInit

  /**
   * Which addresses of DHT peers to keep: `'all'`, or `'private'` for a
   * network that must stay on a LAN. Ignored when `libp2p` is given.
   *
   * @default 'all'
   */
  dhtAddresses?: 'all' | 'private'

  /**
   * Multiaddrs (with `/p2p/<peer id>`) of peers to join the network through;
   * `/dns4/<name>/tcp/<port>/p2p/<id>` and `/dns6/…` names work too.
   */
  bootstrap?: string[]

  /**
   * Multiaddrs (with `/p2p/<peer id>`) of peers that every `publish` pushes
   * its blocks to with StoreChunk, so content has copies before its publisher
   * goes away. Those peers must accept StoreChunk from this node (their
   * `network.storePolicy`).
   */
  seedPeers?: string[]

  /**
   * The node's identity. When omitted, the store keeps one (created on first
   * start): in a LevelDB store's `identity` sublevel or in the datastore, so
   * the peer id survives restarts; a memory store gets a new Ed25519 key
   * each start. Ignored when `libp2p` is given.
   */
  privateKey?: PrivateKey

  /**
   * An existing, started libp2p node to run on, with a kad-dht service at
   * `services.dht` (see `createDdsLibp2p`) unless `discovery` is given. DDS
   * registers its protocol on it and leaves it running on `stop()`. Banned
   * peers' connections are closed as they open; to refuse them at the
   * handshake, make the node with `createDdsLibp2p({ isBanned })` bound to
   * this node's `network.isBanned`.
   */
  libp2p?: DdsLibp2p

  /** A Discovery to use instead of the DHT one. */
  discovery?: Discovery

  /**
   * What `publish` announces: manifests (`'manifest'`: the content's, and a
   * collection's entries'), every block (`'all'`, chunks in the background),
   * or nothing.
   *
   * @default 'manifest'
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

  /**
   * Caps on the DDS protocol's chunk traffic in bytes per second: `upload`
   * (all this node sends: RetrieveChunk answers, StoreChunk data),
   * `download` (all it receives: RetrieveChunk answers, replica fetches
   * included, and StoreChunk data pushed to it) and `uploadPerPeer` (on top
   * of `upload`). Each is optional, at least 65536, and unlimited when unset.
   * A limit allows bursts of 250 ms of its rate (at least one chunk).
   *
   * @default {} (no limit)
   */
  bandwidth?: BandwidthInit

  /** Options of the DDS protocol service (limits, store policy). */
  network?: NetworkInit

  /** Options of the retrieval engine. */
  retrieval?: RetrievalInit

  /** Replication: the factor, how often to recheck, and what this node holds for others (`ReplicationInit`). */
  replication?: ReplicationInit

  /** Options of the DHT discovery (timeouts). */
  discoveryOptions?: KadDiscoveryInit

  /**
   * Where the node logs: libp2p's `ComponentLogger`, each part under a
   * `dds:<part>` name. `streamLogger({ level, format })` writes a line per
   * event (start and stop, peers, publishes, pins, replicas, repairs, bans,
   * gc, errors) to stderr, as text or JSON; any other ComponentLogger (such
   * as `@libp2p/logger`'s `defaultLogger()` or `prefixLogger()`) gets them
   * as debug lines.
   *
   * @default the libp2p node's logger: silent unless `DEBUG=dds:*` is set
   */
  logger?: ComponentLogger
}

/** The parts of a running node. */
export interface DdsParts {
  libp2p: DdsLibp2p
  /** Whether the node created its libp2p node (and so stops it). */
  ownsLibp2p: boolean
  storage: StorageProvider
  network: NetworkService
  discovery: Discovery
  retrieval: RetrievalService
  replication: ReplicationManager
  announcer: Announcer
  publisher: Publisher
  /** CAR export and import. */
  car: CarService
  catalog: Catalog
  counts: NodeStats
  /** The node's own log (`dds:node`): start, stop, peers. */
  log: DdsLogger
  /** Removes the listeners that log peers connecting and leaving. */
  unwatchPeers?: () => void
}

/**
 * Opens the store, starts libp2p (unless given), wires the parts, registers
 * the DDS protocol, joins the bootstrap and seed peers and starts
 * replication. On failure, what was started is stopped again.
 */
export async function composeNode (init: DdsInit): Promise<DdsParts> {
  // every option is checked before anything opens or listens
  const announce = announcer({ strategy: init.announce })
  const bootstrap = parsePeerAddrs(init.bootstrap ?? [], 'bootstrap')
  const seeds = parsePeerAddrs(init.seedPeers ?? [], 'seedPeers')
  // one seed per peer, however many of its addresses were given
  const seedPeers = [...new Map(seeds.map(s => [s.peerId.toString(), s.peerId])).values()]
  const publish = publisher({ chunksPerBlock: init.manifestChunksPerBlock, seedPeers })
  const replication = replicationManager(init.replication)
  const bandwidth = init.bandwidth != null ? new BandwidthLimiter(init.bandwidth) : undefined
  const storage = nodeStorage(init)
  await storage.open()
  const started: Partial<DdsParts> & { storage: StorageProvider, ownsLibp2p: boolean } = { storage, ownsLibp2p: init.libp2p == null }
  try {
    // The gater asks the network service, made below, about each connection;
    // until the service exists nobody is banned, so a miss costs nothing.
    const libp2p = started.libp2p = init.libp2p ?? await createDdsLibp2p({
      listen: init.listen,
      announce: init.announceAddrs,
      nat: init.nat,
      relay: init.relay,
      bootstrap: bootstrap.map(b => b.text),
      ...(init.dhtAddresses != null ? { dht: { addresses: init.dhtAddresses } } : {}),
      privateKey: init.privateKey ?? await persistentPrivateKey(storage),
      isBanned: (peer) => started.network?.isBanned(peer) === true
    })
    const logger = init.logger ?? libp2p.logger
    const log = started.log = componentLog(logger, 'dds:node')
    const counts = new NodeStats()
    const discovery = counts.countProviders(init.discovery ?? discoveryFor(libp2p, init.discoveryOptions))
    const announcer = started.announcer = announce({ discovery, storage, libp2p, logger })
    announcer.start()
    // The network's hooks reach the replication manager and the catalog,
    // which need the network themselves: they are created below, before
    // `network.start()` registers the protocol handler that calls the hooks.
    const parts = started as DdsParts
    const network = started.network = networkService({
      ...init.network,
      onBlockStored: (cid, from) => {
        parts.replication.blockStored(cid, from)
        announcer.announceBlock(cid)
        init.network?.onBlockStored?.(cid, from)
      },
      onReplicate: async (cid, sources, from, signal) => parts.replication.handleInstruction(cid, sources, from, signal),
      onCatalog: async (after, limit, signal) => localCatalog({ pins: parts.replication, storage }, after != null ? cidToString(after) : undefined, limit, { signal })
    })({ libp2p, storage, logger, bandwidth })
    const addPeerAddresses = async (peer: PeerId, multiaddrs: Multiaddr[], options?: AbortOptions): Promise<void> => {
      if (multiaddrs.length > 0) {
        await libp2p.peerStore.merge(peer, { multiaddrs }, options)
      }
    }
    const peers = (): PeerId[] => libp2p.getPeers()
    const retrieval = retrievalService(init.retrieval)({ network, discovery, storage, connectedPeers: peers, addPeerAddresses })
    const replicating = started.replication = replication({
      peerId: libp2p.peerId,
      storage,
      network,
      discovery,
      retrieval,
      peers,
      peerFromString: (id) => { try { return peerIdFromString(id) } catch { return undefined } },
      announceContent: (cid) => { announcer.announceHeld(cid) },
      addPeerAddresses,
      logger
    })
    Object.assign(started, {
      discovery,
      retrieval,
      counts,
      publisher: publish({ storage, replication: replicating, announcer, network, logger }),
      car: carService()({ storage, replication: replicating, announcer, logger }),
      catalog: catalog({ peerId: libp2p.peerId, storage, pins: replicating, network, retrieval, peers })
    })
    await network.start()
    started.unwatchPeers = watchPeers(libp2p, log, (peer) => { replicating.peerLeft(peer) })
    await join({ libp2p, discovery }, [...bootstrap, ...seeds], { required: bootstrap.length > 0, timeoutMs: init.bootstrapTimeoutMs ?? DEFAULT_BOOTSTRAP_TIMEOUT_MS })
    await replicating.start()
    log.info('node started', { peer: libp2p.peerId.toString(), addrs: libp2p.getMultiaddrs().map(String).join(',') })
    // a node given its own discovery may run no kad-dht
    const dhtMode = (libp2p.services as Partial<DdsLibp2p['services']>).dht?.getMode()
    if (dhtMode != null) {
      log.info('DHT mode', { mode: dhtMode })
    }
    return parts
  } catch (err) {
    started.log?.error('node failed to start', { error: errorText(err) })
    await stopParts(started).catch((stopErr: unknown) => { started.log?.warn('stopping a node that failed to start failed too', { error: errorText(stopErr) }) })
    throw err
  }
}

/** Stops what a node started, the last-started first: replication, announcements, the protocol, libp2p (if the node created it), the store. */
export async function stopParts (parts: Partial<DdsParts> & { storage: StorageProvider, ownsLibp2p: boolean }): Promise<void> {
  parts.unwatchPeers?.()
  try {
    await parts.replication?.stop()
    parts.announcer?.stop()
    await parts.network?.stop()
    if (parts.ownsLibp2p) {
      await parts.libp2p?.stop()
    }
  } finally {
    await parts.storage.close()
    parts.log?.info('node stopped')
  }
}

/** Logs peers connecting and leaving (and tells `onLeft`), and the node's relayed addresses as they come and go; returns what stops it. */
function watchPeers (libp2p: DdsLibp2p, log: DdsLogger, onLeft: (peer: PeerId) => void): () => void {
  let relayed = ''
  const addresses = (): void => {
    const now = libp2p.getMultiaddrs().map(String).filter(a => a.includes('/p2p-circuit')).join(',')
    if (now !== relayed) {
      if (now !== '') {
        log.info('listening through a relay', { addrs: now })
      } else {
        log.info('no longer listening through a relay')
      }
      relayed = now
    }
  }
  libp2p.addEventListener('self:peer:update', addresses)
  const connected = (evt: CustomEvent<PeerId>): void => { log.info('peer connected', { peer: evt.detail.toString(), peers: libp2p.getPeers().length }) }
  const left = (evt: CustomEvent<PeerId>): void => {
    log.info('peer disconnected', { peer: evt.detail.toString(), peers: libp2p.getPeers().length })
    onLeft(evt.detail)
  }
  libp2p.addEventListener('peer:connect', connected)
  libp2p.addEventListener('peer:disconnect', left)
  return () => {
    libp2p.removeEventListener('self:peer:update', addresses)
    libp2p.removeEventListener('peer:connect', connected)
    libp2p.removeEventListener('peer:disconnect', left)
  }
}

function discoveryFor (node: DdsLibp2p, init?: KadDiscoveryInit): Discovery {
  if (node.services.dht == null) {
    throw new InvalidInputError('the given libp2p node has no kad-dht service at services.dht; add ddsDht() or pass a discovery')
  }
  return kadDiscovery(init)({ dht: node.services.dht, peerId: node.peerId, libp2p: node })
}
