import { setMaxListeners } from 'node:events'
import type { PeerId, Startable } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import { CustomProgressEvent } from 'progress-events'
import { cidToString } from '../cid.js'
import { isManifestBlock } from '../manifest/index.js'
import { recordStore } from '../storage/index.js'
import { componentLog, errorText, silentLog, type DdsLogger } from '../log/index.js'
import { Admission, type InstructionAnswer } from './admission.js'
import { PINS_TABLE } from './constants.js'
import { PinFetcher, type PinProgress } from './fetcher.js'
import { GarbageCollector, type GcResult } from './gc.js'
import { Health } from './health.js'
import { GcLock } from './lock.js'
import { PinIndex, type Pin } from './pins.js'
import { describePins, repoStat, type PinInfo, type RepoStat } from './usage.js'
import type { PinOptions, ReplicationComponents, ReplicationStatus, ResolvedReplicationInit, ReplicationManager } from './index.js'

/**
 * The ReplicationManager implementation; created through
 * `replicationManager()`. It owns the pins and the gc lock and composes four
 * parts, each given only what it uses:
 *
 * - `PinFetcher` (fetcher.ts): fetches content and pins it, resumes
 *   interrupted fetches at start, drops replicas;
 * - `Admission` (admission.ts): answers ReplicationInstructions within the
 *   accept policy and the quota;
 * - `Health` (health.ts): counts live holders, repairs and trims copies,
 *   rechecks pins periodically, emits `replication:status`;
 * - `GarbageCollector` (gc.ts): gc under the lock, sparing blocks peers
 *   stored here moments ago.
 */
export class DdsReplicationManager extends EventTarget implements ReplicationManager, Startable {
  private readonly components: ReplicationComponents
  private readonly pins: PinIndex
  private readonly lock = new GcLock()
  /** Aborted at stop: every fetch, probe and instruction in progress listens to it. */
  private readonly controller = new AbortController()
  private readonly fetcher: PinFetcher
  private readonly admission: Admission
  private readonly log: DdsLogger
  private readonly health: Health
  private readonly collector: GarbageCollector
  private readonly factor: number

  constructor (components: ReplicationComponents, init: ResolvedReplicationInit) {
    super()
    this.components = components
    this.factor = init.factor
    this.pins = new PinIndex(recordStore(components.storage, PINS_TABLE))
    setMaxListeners(Infinity, this.controller.signal)
    const { pins, lock } = this
    const shutdown = this.controller.signal
    const log = this.log = components.logger != null ? componentLog(components.logger, 'dds:replication') : silentLog
    this.fetcher = new PinFetcher({
      storage: components.storage,
      retrieval: components.retrieval,
      pins,
      lock,
      announceContent: (cid) => { components.announceContent(cid) },
      shutdown,
      log
    })
    this.admission = new Admission({
      pins,
      retrieval: components.retrieval,
      fetcher: this.fetcher,
      shutdown,
      storage: components.storage,
      maxStoredBytes: components.network.maxStoredBytes,
      log,
      onReplicaHeld: (cid, holders) => { this.health.knownHolders(cid, holders) }
    }, {
      accept: init.accept,
      quotaBytes: init.quotaBytes,
      perPeerShare: init.perPeerShare,
      maxReplicaFetches: init.maxReplicaFetches
    })
    this.health = new Health({
      peerId: components.peerId,
      network: components.network,
      discovery: components.discovery,
      pins,
      fetcher: this.fetcher,
      peers: () => components.peers(),
      peerFromString: (id) => components.peerFromString(id),
      addPeerAddresses: components.addPeerAddresses?.bind(components),
      events: this,
      shutdown,
      log
    }, {
      factor: init.factor,
      maxCopies: init.maxCopies,
      checkIntervalMs: init.checkIntervalMs,
      repairAfterChecks: init.repairAfterChecks,
      probeTimeoutMs: init.probeTimeoutMs,
      maxHoldersSearched: init.maxHoldersSearched
    })
    this.collector = new GarbageCollector({ storage: components.storage, pins, lock, log }, { storedGraceMs: init.storedGraceMs })
  }

  async start (): Promise<void> {
    this.health.start()
    await this.fetcher.resume()
  }

  async stop (): Promise<void> {
    this.health.stop()
    this.controller.abort()
    await this.fetcher.settled()
  }

  async pinWritten<T extends { cid: CID, size: number }> (write: () => Promise<T>): Promise<T> {
    return this.lock.withShared(async () => {
      const written = await write()
      await this.pins.put({ cid: cidToString(written.cid), kind: 'local', state: 'complete', size: written.size, pinnedAt: Date.now() })
      return written
    })
  }

  async pinWrittenMany<T extends { pins: Array<{ cid: CID, size: number }> }> (write: () => Promise<T>): Promise<T> {
    return this.lock.withShared(async () => {
      const written = await write()
      for (const { cid, size } of written.pins) {
        await this.pins.put({ cid: cidToString(cid), kind: 'local', state: 'complete', size, pinnedAt: Date.now() })
      }
      return written
    })
  }

  async getPin (cid: CID): Promise<Pin | undefined> {
    return this.pins.get(cid)
  }

  listPins (options: { after?: string } = {}): AsyncIterable<Pin & { manifest: CID }> {
    return this.pins.list(options)
  }

  async describePins (): Promise<PinInfo[]> {
    return describePins(this.components.storage, this.pins, (cid) => this.health.status(cid))
  }

  async repoStat (): Promise<RepoStat> {
    return repoStat(this.components.storage, this.pins, this.admission.limits, await this.admission.usage())
  }

  async unpin (cid: CID): Promise<boolean> {
    const existed = (await this.pins.get(cid)) != null
    this.fetcher.cancelFetch(cid)
    await this.pins.delete(cid)
    return existed
  }

  /**
   * A seed peer receives a content's blocks by StoreChunk, the manifest last.
   * A manifest that arrives this way is an offer of content like a
   * ReplicationInstruction from the peer that pushed it, and goes through
   * the same admission: the accept policy, the quota and the peer's share of
   * it, and the fetch limit. Accepted, the content is pinned as a replica
   * (completed from the blocks already stored); refused, its blocks stay
   * unpinned and the next gc after the grace period removes them.
   */
  blockStored (cid: CID, from: PeerId): void {
    this.collector.noteStored(cid)
    this.components.storage.get(cid).then(async (bytes) => {
      if (bytes == null || !isManifestBlock(bytes)) {
        return // gone, or a data chunk
      }
      await this.admission.handleInstruction(cid, [from.toMultihash().bytes], from, this.controller.signal)
    }).catch((err: unknown) => { this.log.debug('a stored block could not be checked for a manifest', { cid: cidToString(cid), error: errorText(err) }) })
  }

  async gc (signal?: AbortSignal): Promise<GcResult> {
    return this.collector.gc(signal)
  }

  async pin (cid: CID, options: PinOptions = {}): Promise<Pin> {
    const { onProgress } = options
    const extra = onProgress != null ? { onProgress: (progress: PinProgress) => { onProgress(new CustomProgressEvent('dds:pin:progress', progress)) } } : {}
    const pin = await this.fetcher.fetchAndPin(cid, 'local', extra, options.signal)
    this.replicate(cid)
    return pin
  }

  replicate (cid: CID): void {
    if (this.factor > 1) {
      this.health.ensureReplication(cid, [], true).catch((err: unknown) => {
        this.log.warn('replication check failed', { cid: cidToString(cid), error: errorText(err) })
      })
    }
  }

  async dropReplica (cid: CID): Promise<boolean> {
    if ((await this.pins.get(cid))?.kind !== 'replica') {
      return false
    }
    await this.fetcher.dropReplica(cid)
    return true
  }

  async handleInstruction (cid: CID, sources: Uint8Array[], from: PeerId, signal: AbortSignal): Promise<InstructionAnswer> {
    return this.admission.handleInstruction(cid, sources, from, signal)
  }

  async instructReplicate (target: PeerId, cid: CID, sourceHint: PeerId[], signal?: AbortSignal): Promise<void> {
    await this.health.instructReplicate(target, cid, sourceHint, signal)
  }

  async ensureReplication (cid: CID, knownProviders?: PeerId[], immediate?: boolean): Promise<ReplicationStatus> {
    return this.health.ensureReplication(cid, knownProviders, immediate)
  }

  status (cid: CID): ReplicationStatus | undefined {
    return this.health.status(cid)
  }

  peerLeft (peer: PeerId): void {
    this.health.holderLeft(peer.toString())
  }
}
