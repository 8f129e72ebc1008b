import { setMaxListeners } from 'node:events'
import type { PeerId, Startable } from '@libp2p/interface'
import { peerIdFromMultihash } from '@libp2p/peer-id'
import * as Digest from 'multiformats/hashes/digest'
import type { CID } from 'multiformats/cid'
import { CustomProgressEvent } from 'progress-events'
import { cidToString, parseCid } from '../cid.js'
import { AbortError, DdsError } from '../errors.js'
import { Status } from '../pb/index.js'
import type { Manifest } from '../manifest/index.js'
import { refusal } from './accept.js'
import { collectGarbage, type GcResult } from './gc.js'
import { PinIndex, type Pin } from './pins.js'
import { GcLock } from './lock.js'
import { PINS_TABLE } from './constants.js'
import { recordStore } from '../storage/index.js'
import { decodeManifest, MAX_MANIFEST_BLOCK_SIZE } from '../manifest/index.js'
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
  private readonly fetching = new Map<string, { work: Promise<Pin>, controller: AbortController }>()
  private readonly admissions = new Serial()
  /** Replicas accepted and not yet complete: bytes reserved against the quota. */
  private readonly reserved = new Map<string, { bytes: number, for: string }>()
  private readonly checks = new Map<string, Promise<ReplicationStatus>>()
  private readonly recentlyStored = new Map<string, number>()
  private readonly controller = new AbortController()
  private timer?: ReturnType<typeof setInterval>
  private checking = false
  private readonly pins: PinIndex
  private readonly lock = new GcLock()

  constructor (components: ReplicationComponents, init: ResolvedReplicationInit) {
    super()
    this.components = components
    this.init = init
    this.pins = new PinIndex(recordStore(components.storage, PINS_TABLE))
    // every probe and fetch in progress listens to it
    setMaxListeners(Infinity, this.controller.signal)
  }

  async pinWritten<T extends { cid: CID, size: number }> (write: () => Promise<T>): Promise<T> {
    return this.lock.withShared(async () => {
      const written = await write()
      await this.pins.put({ cid: cidToString(written.cid), kind: 'local', state: 'complete', size: written.size, pinnedAt: Date.now() })
      return written
    })
  }

  async getPin (cid: CID): Promise<Pin | undefined> {
    return this.pins.get(cid)
  }

  listPins (options: { after?: string } = {}): AsyncIterable<Pin & { manifest: CID }> {
    return this.pins.list(options)
  }

  async unpin (cid: CID): Promise<boolean> {
    const existed = (await this.pins.get(cid)) != null
    this.cancelFetch(cid)
    await this.pins.delete(cid)
    return existed
  }

  /**
   * A seed peer receives a content's blocks by StoreChunk, the manifest last:
   * once the manifest is there, the content is pinned as a replica (completed
   * from the blocks already stored), so gc keeps it and it counts against the
   * replica quota like any copy held for another peer.
   */
  blockStored (cid: CID, from: PeerId): void {
    this.noteStored(cid)
    this.components.storage.get(cid).then(async (bytes) => {
      if (bytes == null || bytes.byteLength > MAX_MANIFEST_BLOCK_SIZE) {
        return
      }
      try {
        decodeManifest(bytes)
      } catch {
        return // a data chunk
      }
      await this.fetchAndPin(cid, 'replica', { for: from.toString() })
    }).catch(() => {})
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
    await Promise.allSettled([...this.fetching.values()].map(async f => f.work))
  }

  status (cid: CID): ReplicationStatus | undefined {
    const status = this.statuses.get(cidToString(cid))
    return status == null ? undefined : { ...status, live: [...status.live] }
  }

  /** Remembers a block a peer stored here (StoreChunk), so garbage collection spares it until its manifest pins it. */
  private noteStored (cid: CID): void {
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
   * and pins it. The manifest is checked before anything is written; the pin
   * is written as `fetching` first and `complete` after the last block, and
   * the manifest block itself is stored last, so a peer that serves the
   * manifest holds the whole content. A fetch that fails removes its pin; one
   * interrupted by a crash is resumed at the next start. `unpin` during the
   * fetch cancels it.
   */
  async fetchAndPin (cid: CID, kind: Pin['kind'], extra: { for?: string, sources?: string[], manifest?: Manifest } = {}, signal?: AbortSignal): Promise<Pin> {
    const key = cidToString(cid)
    const running = this.fetching.get(key)
    if (running != null) {
      const pin = await running.work
      return kind === 'local' ? this.promote(pin) : pin
    }
    const controller = new AbortController()
    const work = this.lock.withShared(async () => this.fetchLocked(cid, key, kind, extra, signal, controller))
    this.fetching.set(key, { work, controller })
    try {
      return await work
    } finally {
      this.fetching.delete(key)
      this.release(key)
    }
  }

  /**
   * Stops holding a replica: removes its pin and its manifest block at once
   * (so this node no longer answers probes for it and is no longer counted
   * as a holder); the other blocks go at the next gc.
   */
  async dropReplica (cid: CID): Promise<void> {
    this.cancelFetch(cid)
    await this.pins.delete(cid)
    await this.components.storage.delete(cid)
  }

  /** Stops a running fetch of `cid` (its pin is being removed). */
  cancelFetch (cid: CID): void {
    this.fetching.get(cidToString(cid))?.controller.abort(new AbortError('the pin was removed'))
  }

  private async promote (pin: Pin): Promise<Pin> {
    if (pin.kind !== 'replica') {
      return pin
    }
    const promoted: Pin = { ...pin, kind: 'local' }
    delete promoted.for
    await this.pins.put(promoted)
    return promoted
  }

  private async fetchLocked (cid: CID, key: string, kind: Pin['kind'], extra: { for?: string, sources?: string[], manifest?: Manifest }, signal: AbortSignal | undefined, controller: AbortController): Promise<Pin> {
    const existing = await this.pins.get(cid)
    if (existing?.state === 'complete') {
      return kind === 'local' ? this.promote(existing) : existing
    }
    const combined = AbortSignal.any([controller.signal, this.controller.signal, ...(signal != null ? [signal] : [])])
    // the manifest is fetched and checked before any pin is written
    const resolved = await this.components.retrieval.resolveManifest(cid, { signal: combined })
    const pin: Pin = {
      cid: key,
      kind: existing?.kind === 'local' ? 'local' : kind,
      state: 'fetching',
      size: resolved.manifest.size,
      pinnedAt: existing?.pinnedAt ?? Date.now(),
      ...(extra.for != null && kind === 'replica' ? { for: extra.for } : {}),
      ...(extra.sources != null ? { sources: extra.sources } : {})
    }
    await this.pins.put(pin)
    try {
      for await (const bytes of this.components.retrieval.content(resolved, { signal: combined, store: true })) {
        void bytes
      }
      await this.components.storage.put(cid, resolved.bytes)
    } catch (err) {
      // A new fetch that fails leaves no pin behind. A resumed one (its pin
      // was already `fetching` when this call began, e.g. after a crash) keeps
      // its pin and its blocks for the next start: a node that comes back up
      // while its sources are unreachable does not throw away the progress.
      if (!this.controller.signal.aborted && existing?.state !== 'fetching') {
        await this.pins.delete(cid)
      }
      throw err
    }
    if ((await this.pins.get(cid)) == null) {
      throw new AbortError('the pin was removed while its content was fetched')
    }
    const done: Pin = { ...pin, state: 'complete' }
    await this.pins.put(done)
    this.components.announceContent(cid)
    return done
  }

  /**
   * The accepting side of a ReplicationInstruction: checks the policy and
   * the quota against the content's size (fetching only its manifest; the
   * bytes are reserved at once, so concurrent instructions cannot overshoot
   * the quota), then answers OK and fetches the content in the background,
   * at most `maxReplicaFetches` at a time.
   */
  async handleInstruction (cid: CID, sources: Uint8Array[], from: PeerId, signal: AbortSignal): Promise<{ status: Status, error?: string }> {
    if (this.controller.signal.aborted) {
      return { status: Status.BUSY, error: 'this node is stopping' }
    }
    const key = cidToString(cid)
    const existing = await this.pins.get(cid)
    if (existing?.state === 'complete' || this.fetching.has(key) || this.reserved.has(key)) {
      return { status: Status.OK }
    }
    if (this.init.accept === 'none' || (Array.isArray(this.init.accept) && !this.init.accept.includes(from.toString()))) {
      return { status: Status.REJECTED, error: refusal(this.init.accept, from, 0, { total: 0, fromPeer: 0 }, this.init) }
    }
    if (this.reserved.size >= this.init.maxReplicaFetches) {
      return { status: Status.BUSY, error: `this node is already fetching ${this.reserved.size} replicas; ask again later` }
    }
    let resolved
    try {
      resolved = await this.components.retrieval.resolveManifest(cid, { signal })
    } catch (err) {
      return { status: Status.NOT_FOUND, error: `could not fetch the manifest: ${(err as Error).message}` }
    } finally {
      resolved?.feed?.stop()
    }
    const manifest = resolved.manifest
    // check and reserve as one step, so concurrent instructions see each other's reservations
    const verdict = await this.admissions.run(async () => {
      const usage = await this.replicaUsage(from)
      const reason = refusal(this.init.accept, from, manifest.size, usage, this.init)
      if (reason != null) {
        return { status: Status.REJECTED, error: reason }
      }
      if (this.reserved.size >= this.init.maxReplicaFetches || this.reserved.has(key)) {
        return { status: Status.BUSY, error: 'this node is already fetching replicas; ask again later' }
      }
      this.reserved.set(key, { bytes: manifest.size, for: from.toString() })
      return undefined
    })
    if (verdict != null) {
      return verdict
    }
    const sourceIds = sources.flatMap(bytes => { try { return [peerIdFromMultihash(Digest.decode(bytes)).toString()] } catch { return [] } })
    this.fetchAndPin(cid, 'replica', { for: from.toString(), sources: sourceIds, manifest }).catch(() => {})
    return { status: Status.OK }
  }

  private release (key: string): void {
    this.reserved.delete(key)
  }

  /** Bytes of replicas held or being fetched, in all and for `from`; reservations of fetches not yet pinned count too. */
  private async replicaUsage (from: PeerId): Promise<{ total: number, fromPeer: number }> {
    const usage = { total: 0, fromPeer: 0 }
    for (const [key, reservation] of this.reserved) {
      if ((await this.pins.get(parseCid(key))) != null) {
        continue // counted below from its pin
      }
      usage.total += reservation.bytes
      if (reservation.for === from.toString()) {
        usage.fromPeer += reservation.bytes
      }
    }
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
    const status = this.statuses.get(key) ?? { cid: key, target: this.init.factor, live: [], lastCheck: 0, repairing: false, copiesRequested: 0, copiesDropped: 0, lowChecks: 0 }
    this.statuses.set(key, status)
    const live = await this.liveHolders(cid, [...knownProviders, ...status.live])
    status.live = live
    status.lastCheck = Date.now()
    status.lowChecks = live.length < this.init.factor ? status.lowChecks + 1 : 0
    if (live.length < this.init.factor && (immediate || status.lowChecks >= this.init.repairAfterChecks) && await this.leads(cid, live, immediate || status.lowChecks > this.init.repairAfterChecks)) {
      await this.repair(cid, status)
    }
    if (live.length > this.init.maxCopies && await this.trims(cid, live)) {
      await this.dropOwnReplica(cid, status)
    }
    this.emit(status)
    return this.status(cid)!
  }

  /**
   * Every holder checks what it holds, so copies are healed after the
   * publisher is gone too; to keep several holders from repairing the same
   * loss at once, a replica holder repairs only when it has the lowest peer
   * id among the live holders, and one check later than a local pin would
   * (`late`), so a publisher still online repairs first.
   */
  private async leads (cid: CID, live: string[], late: boolean): Promise<boolean> {
    const pin = await this.pins.get(cid)
    if (pin?.kind !== 'replica') {
      return true
    }
    const self = this.components.peerId.toString()
    return late && live.every(id => id >= self)
  }

  /**
   * Above the band's upper bound (`maxCopies`) the live holders with the
   * `maxCopies` lowest peer ids keep their copies and every replica holder
   * above them drops its own (each decides alone, from the same live list).
   * Local pins are never dropped, so a local owner above the cut stays as
   * one extra copy. Nothing changes between the factor and the upper bound,
   * so a peer that comes back after a repair sets off no wave of drops.
   */
  private async trims (cid: CID, live: string[]): Promise<boolean> {
    const pin = await this.pins.get(cid)
    const self = this.components.peerId.toString()
    return pin?.kind === 'replica' && live.filter(id => id < self).length >= this.init.maxCopies
  }

  private async dropOwnReplica (cid: CID, status: ReplicationStatus): Promise<void> {
    await this.dropReplica(cid)
    status.live = status.live.filter(id => id !== this.components.peerId.toString())
    status.copiesDropped++
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
        if (pin.state === 'complete') {
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

/** Runs tasks one after another. */
class Serial {
  private tail: Promise<unknown> = Promise.resolve()

  async run<T> (task: () => Promise<T>): Promise<T> {
    const next = this.tail.then(task, task)
    this.tail = next.catch(() => {})
    return next
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
