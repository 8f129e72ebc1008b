import type { PeerId, Startable } from '@libp2p/interface'
import { peerIdFromMultihash } from '@libp2p/peer-id'
import * as Digest from 'multiformats/hashes/digest'
import type { CID } from 'multiformats/cid'
import { CustomProgressEvent } from 'progress-events'
import { cidToString } from '../cid.js'
import { DdsError } from '../errors.js'
import { Status } from '../pb/index.js'
import type { Manifest } from '../manifest/index.js'
import { refusal } from './accept.js'
import { collectGarbage, type GcResult } from './gc.js'
import type { Pin, PinIndex } from './pins.js'
import type { GcLock } from './lock.js'
import type { ReplicationComponents, ReplicationStatus, ResolvedReplicationInit, ReplicationManager } from './index.js'

/** Peers that refused a copy are not asked again for this long, in ms. */
const REFUSAL_MEMORY_MS = 10 * 60 * 1000
/** Probes of holders run at once. */
const PROBE_CONCURRENCY = 8

/** The ReplicationManager implementation; created through `replicationManager()`. */
export class DdsReplicationManager extends EventTarget implements ReplicationManager, Startable {
  private readonly components: ReplicationComponents
  private readonly init: ResolvedReplicationInit
  private readonly statuses = new Map<string, ReplicationStatus>()
  private readonly refused = new Map<string, number>()
  private readonly fetching = new Map<string, Promise<Pin>>()
  private readonly checks = new Map<string, Promise<ReplicationStatus>>()
  private readonly recentlyStored = new Map<string, number>()
  private readonly controller = new AbortController()
  private timer?: ReturnType<typeof setInterval>
  private checking = false

  constructor (components: ReplicationComponents, init: ResolvedReplicationInit) {
    super()
    this.components = components
    this.init = init
  }

  get pins (): PinIndex {
    return this.components.pins
  }

  get lock (): GcLock {
    return this.components.lock
  }

  async start (): Promise<void> {
    this.timer = setInterval(() => { this.checkAll().catch(() => {}) }, this.init.checkIntervalMs)
    this.timer.unref?.()
    // finish what a restart interrupted, and announce what is held again
    for await (const pin of this.pins.list()) {
      if (pin.state === 'fetching') {
        this.fetchAndPin(pin.manifest, pin.kind, { for: pin.for, sources: pin.sources }).catch(() => {})
      } else {
        this.components.announceContent(pin.manifest)
      }
    }
  }

  async stop (): Promise<void> {
    clearInterval(this.timer)
    this.controller.abort()
    await Promise.allSettled([...this.fetching.values()])
  }

  status (cid: CID): ReplicationStatus | undefined {
    const status = this.statuses.get(cidToString(cid))
    return status == null ? undefined : { ...status, live: [...status.live] }
  }

  /** Remembers a block a peer stored here (StoreChunk), so garbage collection spares it until its manifest pins it. */
  noteStored (cid: CID): void {
    const now = Date.now()
    this.recentlyStored.set(cidToString(cid), now)
    for (const [key, at] of this.recentlyStored) {
      if (now - at < this.init.storedGraceMs) {
        break
      }
      this.recentlyStored.delete(key)
    }
  }

  async gc (signal?: AbortSignal): Promise<GcResult> {
    return this.lock.withExclusive(async () => collectGarbage(this.components.storage, this.pins, (key) => {
      const at = this.recentlyStored.get(key)
      return at != null && Date.now() - at < this.init.storedGraceMs
    }, { signal }))
  }

  /**
   * Fetches content into the store (verified, through the retrieval engine)
   * and pins it. The pin is written as `fetching` first and `complete` after
   * the last block, so an interrupted fetch is resumed at the next start.
   */
  async fetchAndPin (cid: CID, kind: Pin['kind'], extra: { for?: string, sources?: string[], manifest?: Manifest } = {}, signal?: AbortSignal): Promise<Pin> {
    const key = cidToString(cid)
    const running = this.fetching.get(key)
    if (running != null) {
      return running
    }
    const work = this.lock.withShared(async () => {
      const existing = await this.pins.get(cid)
      if (existing?.state === 'complete') {
        if (existing.kind === 'replica' && kind === 'local') {
          const promoted: Pin = { ...existing, kind: 'local' }
          delete promoted.for
          await this.pins.put(promoted)
          return promoted
        }
        return existing
      }
      const pin: Pin = { cid: key, kind, state: 'fetching', size: extra.manifest?.size ?? existing?.size ?? 0, pinnedAt: Date.now(), ...(extra.for != null ? { for: extra.for } : {}), ...(extra.sources != null ? { sources: extra.sources } : {}) }
      await this.pins.put(pin)
      const combined = signal != null ? AbortSignal.any([signal, this.controller.signal]) : this.controller.signal
      const resolved = await this.components.retrieval.resolveManifest(cid, { signal: combined, store: true })
      for await (const bytes of this.components.retrieval.content(resolved, { signal: combined, store: true })) {
        void bytes
      }
      const done: Pin = { ...pin, size: resolved.manifest.size, state: 'complete' }
      await this.pins.put(done)
      this.components.announceContent(cid)
      return done
    })
    this.fetching.set(key, work)
    try {
      return await work
    } finally {
      this.fetching.delete(key)
    }
  }

  /**
   * The accepting side of a ReplicationInstruction: checks the policy and
   * the quota against the content's size (fetching only its manifest), then
   * answers OK and fetches the content in the background.
   */
  async handleInstruction (cid: CID, sources: Uint8Array[], from: PeerId, signal: AbortSignal): Promise<{ status: Status, error?: string }> {
    const existing = await this.pins.get(cid)
    if (existing?.state === 'complete' || this.fetching.has(cidToString(cid))) {
      return { status: Status.OK }
    }
    if (this.init.accept === 'none' || (Array.isArray(this.init.accept) && !this.init.accept.includes(from.toString()))) {
      return { status: Status.REJECTED, error: refusal(this.init.accept, from, 0, { total: 0, fromPeer: 0 }, this.init) }
    }
    let manifest: Manifest
    try {
      manifest = (await this.components.retrieval.resolveManifest(cid, { signal })).manifest
    } catch (err) {
      return { status: Status.NOT_FOUND, error: `could not fetch the manifest: ${(err as Error).message}` }
    }
    const usage = await this.replicaUsage(from)
    const reason = refusal(this.init.accept, from, manifest.size, usage, this.init)
    if (reason != null) {
      return { status: Status.REJECTED, error: reason }
    }
    const sourceIds = sources.flatMap(bytes => { try { return [peerIdFromMultihash(Digest.decode(bytes)).toString()] } catch { return [] } })
    this.fetchAndPin(cid, 'replica', { for: from.toString(), sources: sourceIds, manifest }).catch(() => {})
    return { status: Status.OK }
  }

  private async replicaUsage (from: PeerId): Promise<{ total: number, fromPeer: number }> {
    const usage = { total: 0, fromPeer: 0 }
    for await (const pin of this.pins.list()) {
      if (pin.kind === 'replica') {
        usage.total += pin.size
        if (pin.for === from.toString()) {
          usage.fromPeer += pin.size
        }
      }
    }
    return usage
  }

  async instructReplicate (target: PeerId, cid: CID, sourceHint: PeerId[], signal?: AbortSignal): Promise<void> {
    await this.components.network.replicate(target, cid, sourceHint, { signal, timeoutMs: this.init.probeTimeoutMs * 4 })
  }

  /**
   * Counts the live holders of `cid` (this node, if it holds it, and every
   * peer that answers a probe for the manifest) and asks more peers to hold
   * a copy when there are fewer than the factor: at once when `immediate`,
   * otherwise only after `repairAfterChecks` low checks in a row.
   */
  async ensureReplication (cid: CID, knownProviders: PeerId[] = [], immediate = true): Promise<ReplicationStatus> {
    const key = cidToString(cid)
    // one check per content at a time: two overlapping checks would both see
    // too few holders and ask for twice the copies
    const running = this.checks.get(key)
    if (running != null) {
      return running
    }
    const check = this.check(cid, key, knownProviders, immediate).finally(() => { this.checks.delete(key) })
    this.checks.set(key, check)
    return check
  }

  private async check (cid: CID, key: string, knownProviders: PeerId[], immediate: boolean): Promise<ReplicationStatus> {
    const status = this.statuses.get(key) ?? { cid: key, target: this.init.factor, live: [], lastCheck: 0, repairing: false, copiesRequested: 0, lowChecks: 0 }
    this.statuses.set(key, status)
    const live = await this.liveHolders(cid, [...knownProviders, ...status.live])
    status.live = live
    status.lastCheck = Date.now()
    status.lowChecks = live.length < this.init.factor ? status.lowChecks + 1 : 0
    if (live.length < this.init.factor && (immediate || status.lowChecks >= this.init.repairAfterChecks)) {
      await this.repair(cid, status)
    }
    this.emit(status)
    return this.status(cid)!
  }

  private async liveHolders (cid: CID, known: Array<string | PeerId>): Promise<string[]> {
    const self = this.components.peerId.toString()
    const pin = await this.pins.get(cid)
    const candidates = new Map<string, PeerId>()
    for (const peer of known) {
      const id = typeof peer === 'string' ? this.components.peerFromString(peer) : peer
      if (id != null) {
        candidates.set(id.toString(), id)
      }
    }
    try {
      const signal = AbortSignal.any([this.controller.signal, AbortSignal.timeout(this.init.probeTimeoutMs * 2)])
      for await (const provider of this.components.discovery.findProviders(cid, this.init.maxHoldersSearched, { signal })) {
        await this.components.addPeerAddresses?.(provider.peerId, provider.multiaddrs)
        candidates.set(provider.peerId.toString(), provider.peerId)
      }
    } catch {
      // a search that fails finds nobody new
    }
    candidates.delete(self)
    const alive = await mapLimited([...candidates.values()], PROBE_CONCURRENCY, async (peer) => this.probe(peer, cid))
    const live = [...candidates.keys()].filter((_, i) => alive[i] === true)
    return pin?.state === 'complete' ? [self, ...live] : live
  }

  /** True when `peer` answers with the manifest block (it is online and holds the content). */
  private async probe (peer: PeerId, cid: CID): Promise<boolean> {
    if (this.components.network.isBanned(peer)) {
      return false
    }
    try {
      await this.components.network.retrieveBlock(peer, cid, { signal: this.controller.signal, timeoutMs: this.init.probeTimeoutMs })
      return true
    } catch {
      return false
    }
  }

  private async repair (cid: CID, status: ReplicationStatus): Promise<void> {
    status.repairing = true
    this.emit(status)
    const self = this.components.peerId
    const key = cidToString(cid)
    const holders = new Set(status.live)
    const sources = [self, ...status.live.flatMap(id => { const p = this.components.peerFromString(id); return p != null && !p.equals(self) ? [p] : [] })]
    try {
      for (const target of this.components.peers()) {
        if (holders.size >= this.init.factor) {
          break
        }
        const id = target.toString()
        const refusedAt = this.refused.get(`${key}/${id}`)
        if (holders.has(id) || target.equals(self) || this.components.network.isBanned(target) || (refusedAt != null && Date.now() - refusedAt < REFUSAL_MEMORY_MS)) {
          continue
        }
        try {
          await this.instructReplicate(target, cid, sources, this.controller.signal)
          holders.add(id)
          status.copiesRequested++
        } catch (err) {
          if (err instanceof DdsError) {
            this.refused.set(`${key}/${id}`, Date.now())
          }
          status.lastError = `${id}: ${(err as Error).message}`
        }
      }
      // peers that accepted count as holders until a later check finds otherwise
      status.live = [...holders]
    } finally {
      status.repairing = false
    }
  }

  private async checkAll (): Promise<void> {
    if (this.checking || this.controller.signal.aborted) {
      return
    }
    this.checking = true
    try {
      for await (const pin of this.pins.list()) {
        if (pin.kind === 'local' && pin.state === 'complete') {
          await this.ensureReplication(pin.manifest, [], false).catch(() => {})
        }
      }
    } finally {
      this.checking = false
    }
  }

  private emit (status: ReplicationStatus): void {
    this.dispatchEvent(new CustomProgressEvent('replication:status', { ...status, live: [...status.live] }))
  }
}

async function mapLimited<T, R> (items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length)
  let next = 0
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++
      results[i] = await fn(items[i]!)
    }
  }))
  return results
}
