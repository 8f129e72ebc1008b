/**
 * Copies that stay: pins, garbage collection, and the replication manager
 * that keeps pinned content at a target number of live holders.
 *
 * - A pin says why a node keeps content: `local` (it published or pinned it)
 *   or `replica` (it holds a copy for another peer).
 * - `gc()` removes every block no pin references; blocks shared by several
 *   contents are stored once and stay while any pin references them.
 * - For each local pin the manager counts live holders (this node and every
 *   peer that answers a probe for the manifest), and when there are fewer
 *   than the factor it sends ReplicationInstructions to connected peers that
 *   do not hold it; they fetch the content themselves (pull, at full speed)
 *   and pin it as a replica.
 * - A node decides what it holds for others: an accept policy, a quota and a
 *   per-peer share of it. A refusal is answered REJECTED with the reason.
 *
 * @module
 */

import type { AbortOptions, PeerId, Startable, ComponentLogger } from '@libp2p/interface'
import type { ProgressEvent, ProgressOptions } from 'progress-events'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { CID } from 'multiformats/cid'
import type { Discovery } from '../discovery/index.js'
import type { NetworkService } from '../network/index.js'
import type { RetrievalService } from '../retrieval/index.js'
import type { StorageProvider } from '../storage/index.js'
import type { Status } from '../pb/index.js'
import { InvalidInputError } from '../errors.js'
import { numberOption } from '../options.js'
import { validateReplicaPolicy, type ReplicaPolicy } from './accept.js'
import { DdsReplicationManager } from './manager.js'
import type { GcResult } from './gc.js'
import type { Pin } from './pins.js'
import type { PinProgress } from './fetcher.js'
import type { PinInfo, RepoStat } from './usage.js'
import * as c from './constants.js'

export { PinIndex, type Pin, type PinKind } from './pins.js'
export { GcLock } from './lock.js'
export type { GcResult } from './gc.js'
export type { ReplicaPolicy } from './accept.js'
export type { PinProgress } from './fetcher.js'
export type { PinInfo, PinReplication, PeerReplicaUsage, RepoStat } from './usage.js'
export { DEFAULT_REPLICATION_FACTOR, PINS_TABLE } from './constants.js'

/** Progress events of `Dds.pin`: `dds:pin:progress` as the content comes in (the first at 0 bytes, the last at its size). */
export type PinProgressEvents = ProgressEvent<'dds:pin:progress', PinProgress>

/** Options of `Dds.pin`. */
export interface PinOptions extends AbortOptions, ProgressOptions<PinProgressEvents> {}

/** What the manager knows about the copies of one content. */
export interface ReplicationStatus {
  /** The manifest CID, base58btc. */
  cid: string
  /** The replication factor. */
  target: number
  /**
   * Live holders found by the last check (peer ids; this node included when
   * it holds the content). Before a replica's first check: the holders its
   * copy was made from (`lastCheck` 0).
   */
  live: string[]
  /** When the last check ran (ms since the epoch; 0 before the first). */
  lastCheck: number
  /** True while copies are being requested. */
  repairing: boolean
  /** Copies requested from other peers so far. */
  copiesRequested: number
  /** Times this node dropped its own replica because there were more than `maxCopies`. */
  copiesDropped: number
  /** Consecutive checks that found fewer live holders than the factor. */
  lowChecks: number
  /** The last failure while requesting a copy. */
  lastError?: string
}

/** Options of replication (`Dds.create({ replication })`). Every limit is in doc/LIMITS.md. */
export interface ReplicationInit {
  /** Live holders to keep, this node included; 1 turns replication off. @default 3 */
  factor?: number
  /** How often pinned content is rechecked, in ms. @default 300000 */
  checkIntervalMs?: number
  /**
   * Upper bound of the band: with more live holders than this, the replica
   * holders beyond the `maxCopies` lowest peer ids drop their copies (local
   * pins never do). Between `factor` and this nothing happens. @default factor + 2
   */
  maxCopies?: number
  /** Low checks in a row before repair (after a publish or pin, repair is immediate); a low check is confirmed after `CONFIRM_CHECK_DELAY_MS`, not at the next regular check. @default 2 */
  repairAfterChecks?: number
  /** Deadline of one liveness probe, in ms. @default 5000 */
  probeTimeoutMs?: number
  /** Holders a check asks the DHT for. @default 20 */
  maxHoldersSearched?: number
  /** Whose content this node holds copies of. @default 'any' */
  accept?: ReplicaPolicy
  /** Bytes of replicas held for others at most; 0 holds none. @default 1073741824 (1 GiB) */
  quotaBytes?: number
  /** Share of the quota one peer may fill: above 0, at most 1. @default 0.5 */
  perPeerShare?: number
  /** How long a block a peer stored here (StoreChunk) is spared by gc before a pin references it, in ms. @default 600000 */
  storedGraceMs?: number
  /** Replica fetches running at once; more instructions are answered BUSY. @default 4 */
  maxReplicaFetches?: number
}

export type ResolvedReplicationInit = Required<ReplicationInit>

/** What the replication manager needs from the node. */
export interface ReplicationComponents {
  peerId: PeerId
  storage: StorageProvider
  network: Pick<NetworkService, 'retrieveBlock' | 'replicate' | 'isBanned' | 'maxStoredBytes'>
  discovery: Discovery
  retrieval: RetrievalService
  /** Peers this node is connected to: candidates for new copies. */
  peers(): PeerId[]
  peerFromString(id: string): PeerId | undefined
  /** Announces content this node now holds (manifest, then chunks in the background). */
  announceContent(cid: CID): void
  /** Remembers the addresses of a holder found in the DHT; gives up when `options.signal` aborts. */
  addPeerAddresses?(peer: PeerId, multiaddrs: Multiaddr[], options?: AbortOptions): Promise<void>
  /** Where replication logs (as `dds:replication`). @default nothing is logged */
  logger?: ComponentLogger
}

/** The replication manager's operations. */
export interface ReplicationManager extends Startable, EventTarget {
  /** Counts live holders of `cid` and asks peers for copies until the factor is met. */
  ensureReplication(cid: CID, knownProviders?: PeerId[], immediate?: boolean): Promise<ReplicationStatus>
  /** Sends `target` a ReplicationInstruction for `cid`, naming peers to fetch from. */
  instructReplicate(target: PeerId, cid: CID, sourceHint: PeerId[], signal?: AbortSignal): Promise<void>
  /** The last known status of `cid`, if it was checked. */
  status(cid: CID): ReplicationStatus | undefined
  /**
   * The node's last connection to `peer` closed: content the last check found
   * it holding is checked again in seconds (`HOLDER_LEFT_CHECK_DELAY_MS`)
   * rather than at the next regular check.
   */
  peerLeft(peer: PeerId): void
  /**
   * Fetches content (verified) into the store and pins it as local content
   * (a replica held for another peer becomes a local pin), then asks for
   * copies as `replicate` does. An interrupted pin resumes at the next start.
   * `onProgress` gets `dds:pin:progress` events (bytes and chunks in the store so far).
   */
  pin(cid: CID, options?: PinOptions): Promise<Pin>
  /** Asks peers for copies of `cid` now, in the background, when the factor is above 1. */
  replicate(cid: CID): void
  /** Answers a ReplicationInstruction (the accepting side). */
  handleInstruction(cid: CID, sources: Uint8Array[], from: PeerId, signal: AbortSignal): Promise<{ status: Status, error?: string }>
  /** Stops holding a replica: its pin and manifest block go at once, the rest at the next gc. False when `cid` is not a replica (a local pin is never dropped). */
  dropReplica(cid: CID): Promise<boolean>
  /** Removes every block no pin references. */
  gc(signal?: AbortSignal): Promise<GcResult>
  /**
   * Runs `write` while gc waits (the write lock, shared with other writers),
   * then pins what it wrote as complete local content, before gc may run:
   * how `publish` stores content that no pin references yet.
   */
  pinWritten<T extends { cid: CID, size: number }>(write: () => Promise<T>): Promise<T>
  /**
   * `pinWritten` for a write that stores several contents at once (a CAR
   * with several roots): every content in `pins` of what `write` resolves
   * to is pinned, before gc may run. A write that throws pins nothing.
   */
  pinWrittenMany<T extends { pins: Array<{ cid: CID, size: number }> }>(write: () => Promise<T>): Promise<T>
  /** The pin of `cid`, if it is pinned. */
  getPin(cid: CID): Promise<Pin | undefined>
  /** Every pin, in the order of their CID strings; from the first CID string greater than `after` when given. */
  listPins(options?: { after?: string }): AsyncIterable<Pin & { manifest: CID }>
  /** Every pin with the content's recorded name, and for local pins what the last replication check found. */
  describePins(): Promise<PinInfo[]>
  /** The store's totals, the pins by kind, and the use of the replica quota in all and per peer. */
  repoStat(): Promise<RepoStat>
  /** Removes the pin of `cid` and stops its fetch; false when it was not pinned. Its blocks go at the next gc. */
  unpin(cid: CID): Promise<boolean>
  /**
   * A peer stored a block here (StoreChunk): it is spared by gc for a grace
   * period, and when it is a manifest the content is pinned as a replica for
   * that peer (completed from the blocks already stored).
   */
  blockStored(cid: CID, from: PeerId): void
}

/** Fills in the defaults of `init` and checks every limit. */
export function resolveReplicationInit (init: ReplicationInit = {}): ResolvedReplicationInit {
  const factor = numberOption('replication.factor', init.factor, c.DEFAULT_REPLICATION_FACTOR)
  const perPeerShare = numberOption('replication.perPeerShare', init.perPeerShare, c.DEFAULT_PER_PEER_SHARE, { min: 0, max: 1, integer: false })
  if (perPeerShare === 0) {
    // numberOption's bounds are inclusive; a share of 0 would refuse every replica, which is accept: 'none'
    throw new InvalidInputError("replication.perPeerShare must be a number above 0 and at most 1, got 0; to hold no replicas set replication.accept to 'none'")
  }
  return {
    factor,
    maxCopies: numberOption('replication.maxCopies', init.maxCopies, factor + c.DEFAULT_COPIES_ABOVE_FACTOR, { min: factor }),
    checkIntervalMs: numberOption('replication.checkIntervalMs', init.checkIntervalMs, c.DEFAULT_CHECK_INTERVAL_MS),
    repairAfterChecks: numberOption('replication.repairAfterChecks', init.repairAfterChecks, c.DEFAULT_REPAIR_AFTER_CHECKS),
    probeTimeoutMs: numberOption('replication.probeTimeoutMs', init.probeTimeoutMs, c.DEFAULT_PROBE_TIMEOUT_MS),
    maxHoldersSearched: numberOption('replication.maxHoldersSearched', init.maxHoldersSearched, c.DEFAULT_MAX_HOLDERS_SEARCHED),
    accept: validateReplicaPolicy(init.accept ?? 'any'),
    quotaBytes: numberOption('replication.quotaBytes', init.quotaBytes, c.DEFAULT_REPLICA_QUOTA_BYTES, { min: 0 }),
    perPeerShare,
    storedGraceMs: numberOption('replication.storedGraceMs', init.storedGraceMs, c.DEFAULT_STORED_GRACE_MS),
    maxReplicaFetches: numberOption('replication.maxReplicaFetches', init.maxReplicaFetches, c.DEFAULT_MAX_REPLICA_FETCHES)
  }
}

/** Creates the replication manager. */
export function replicationManager (init: ReplicationInit = {}): (components: ReplicationComponents) => ReplicationManager {
  const resolved = resolveReplicationInit(init)
  return (components) => new DdsReplicationManager(components, resolved)
}
