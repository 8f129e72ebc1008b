import type { AbortOptions, PeerId, Startable } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { CID } from 'multiformats/cid'
import PQueue from 'p-queue'
import { CustomProgressEvent } from 'progress-events'
import { cidToString, parseCid } from '../cid.js'
import { BusyError, DdsError } from '../errors.js'
import { sleep } from '../signals.js'
import { errorText, silentLog, type DdsLogger } from '../log/index.js'
import type { Discovery } from '../discovery/index.js'
import type { NetworkService } from '../network/index.js'
import type { PinFetcher } from './fetcher.js'
import type { PinIndex } from './pins.js'
import type { ReplicationStatus } from './index.js'
import { BUSY_PROBE_WAIT_MS, CONFIRM_CHECK_DELAY_MS, HOLDER_LEFT_CHECK_CONCURRENCY, HOLDER_LEFT_CHECK_DELAY_MS, HOLDER_SEARCH_PROBE_DEADLINES, INSTRUCTION_PROBE_DEADLINES, MAX_BUSY_PROBES, PROBE_CONCURRENCY, REFUSAL_MEMORY_MS } from './constants.js'

/** What the health checks and repairs need. */
export interface HealthComponents {
  peerId: PeerId
  network: Pick<NetworkService, 'retrieveBlock' | 'replicate' | 'isBanned'>
  discovery: Pick<Discovery, 'findProviders'>
  pins: PinIndex
  fetcher: Pick<PinFetcher, 'dropReplica'>
  /** Peers this node is connected to: candidates for new copies. */
  peers(): PeerId[]
  peerFromString(id: string): PeerId | undefined
  addPeerAddresses?(peer: PeerId, multiaddrs: Multiaddr[], options?: AbortOptions): Promise<void>
  /** Where `replication:status` events are dispatched (the manager). */
  events: Pick<EventTarget, 'dispatchEvent'>
  /** Aborted when the node stops: probes and instructions in progress end. */
  shutdown: AbortSignal
  /** @default nothing is logged */
  log?: DdsLogger
}

/** The limits of checks and repairs (a slice of the resolved ReplicationInit). */
export interface HealthInit {
  factor: number
  maxCopies: number
  checkIntervalMs: number
  repairAfterChecks: number
  probeTimeoutMs: number
  maxHoldersSearched: number
}

/**
 * Keeps pinned content between the factor and `maxCopies` live holders:
 * counts them, asks connected peers for copies when there are too few, drops
 * this node's replica when there are too many, and rechecks every pin
 * periodically.
 */
export class Health implements Startable {
  private readonly components: HealthComponents
  private readonly init: HealthInit
  private readonly statuses = new Map<string, ReplicationStatus>()
  /** When a peer refused a copy of a content, by `<cid>/<peer id>`. */
  private readonly refused = new Map<string, number>()
  private readonly checks = new Map<string, Promise<ReplicationStatus>>()
  /** Confirmation checks scheduled, per content. */
  private readonly confirmations = new Map<string, ReturnType<typeof setTimeout>>()
  private timer?: ReturnType<typeof setInterval>
  private checking = false
  /** Content whose holders left, by key, with who left. Checked after HOLDER_LEFT_CHECK_DELAY_MS. */
  private readonly left = new Map<string, Set<string>>()
  private leftTimer?: ReturnType<typeof setTimeout>
  /** The checks of content whose holder left: one queue, so a mass departure runs HOLDER_LEFT_CHECK_CONCURRENCY at a time. */
  private readonly leftQueue = new PQueue({ concurrency: HOLDER_LEFT_CHECK_CONCURRENCY })

  private readonly log: DdsLogger

  constructor (components: HealthComponents, init: HealthInit) {
    this.components = components
    this.log = components.log ?? silentLog
    this.init = init
  }

  start (): void {
    this.timer = setInterval(() => {
      this.checkAll().catch((err: unknown) => { this.log.warn('replication check failed', { error: errorText(err) }) })
    }, this.init.checkIntervalMs)
    this.timer.unref?.()
  }

  stop (): void {
    clearInterval(this.timer)
    this.timer = undefined
    this.confirmations.forEach(timer => { clearTimeout(timer) })
    this.confirmations.clear()
    clearTimeout(this.leftTimer)
    this.leftTimer = undefined
    this.left.clear()
    this.leftQueue.clear()
  }

  /**
   * `holders` are known to hold `cid` (a replica's instructing peer and
   * sources), and this node has not checked it yet: they count as its live
   * holders until its first check, so that a departure among them sets off
   * a check at once (`holderLeft`) instead of waiting for the regular one,
   * which may be a whole interval away. A content checked already keeps what
   * its check found.
   */
  knownHolders (cid: CID, holders: string[]): void {
    const key = cidToString(cid)
    if (this.statuses.has(key)) {
      return
    }
    const self = this.components.peerId.toString()
    this.statuses.set(key, this.unchecked(key, [self, ...new Set(holders.filter(id => id !== self))]))
  }

  /** The status of a content no check has counted yet, with `live` its holders as far as known. */
  private unchecked (key: string, live: string[]): ReplicationStatus {
    return { cid: key, target: this.init.factor, live, lastCheck: 0, repairing: false, copiesRequested: 0, copiesDropped: 0, lowChecks: 0 }
  }

  /**
   * `peer`, which the last check of some content found holding it, is no
   * longer connected: that content is checked in HOLDER_LEFT_CHECK_DELAY_MS
   * rather than at the next regular check, so a holder that vanished (its
   * process killed, its host gone) is noticed in seconds. The check counts
   * as any other: repair waits for its confirmation. Departures while a
   * check is pending join it, so a later one may wait less than the delay.
   */
  holderLeft (peer: string): void {
    if (this.timer == null) {
      return
    }
    for (const [key, status] of this.statuses) {
      if (status.live.includes(peer)) {
        const peers = this.left.get(key) ?? new Set<string>()
        peers.add(peer)
        this.left.set(key, peers)
      }
    }
    if (this.left.size === 0 || this.leftTimer != null) {
      return
    }
    this.leftTimer = setTimeout(() => {
      this.leftTimer = undefined
      this.checkLeft().catch((err: unknown) => { this.log.warn('replication check failed', { error: errorText(err) }) })
    }, HOLDER_LEFT_CHECK_DELAY_MS)
    this.leftTimer.unref?.()
  }

  /**
   * Checks the content of holders that left, unless every one of them is
   * connected again. A check running meanwhile is waited for first; if it
   * (or any check since) no longer counts the departed holders, it has
   * counted the loss already and the content is not checked again.
   */
  private async checkLeft (): Promise<void> {
    const connected = new Set(this.components.peers().map(String))
    const due = [...this.left].filter(([, peers]) => ![...peers].every(peer => connected.has(peer)))
    this.left.clear()
    if (due.length === 0) {
      return
    }
    this.log.info('a holder left, checking its content', { contents: due.length })
    await this.leftQueue.addAll(due.map(([key, peers]) => async () => {
      await this.checks.get(key)?.catch(() => {})
      const live = this.statuses.get(key)?.live ?? []
      if (this.confirmations.has(key) || ![...peers].some(peer => live.includes(peer))) {
        return
      }
      await this.confirmCheck(parseCid(key)).catch((err: unknown) => { this.log.warn('replication check failed', { cid: key, error: errorText(err) }) })
    }))
  }

  status (cid: CID): ReplicationStatus | undefined {
    const status = this.statuses.get(cidToString(cid))
    return status == null ? undefined : { ...status, live: [...status.live] }
  }

  async instructReplicate (target: PeerId, cid: CID, sourceHint: PeerId[], signal?: AbortSignal): Promise<void> {
    await this.components.network.replicate(target, cid, sourceHint, { signal, timeoutMs: this.init.probeTimeoutMs * INSTRUCTION_PROBE_DEADLINES })
  }

  /**
   * Counts the live holders of `cid` (this node, if it holds it, and every
   * peer that answers a probe for the manifest) and asks more peers to hold
   * a copy when there are fewer than the factor: at once when `immediate`,
   * otherwise only after `repairAfterChecks` low checks in a row. A low
   * check is run again after `CONFIRM_CHECK_DELAY_MS` (a quarter of the
   * check interval at most) rather than at the next regular check, until the
   * count is back or the repair is due, so a holder that is gone is replaced
   * within about one check interval of being noticed.
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
    const { factor, maxCopies, repairAfterChecks } = this.init
    const status = this.statuses.get(key) ?? this.unchecked(key, [])
    this.statuses.set(key, status)
    const live = await this.liveHolders(cid, [...knownProviders, ...status.live])
    status.live = live
    status.lastCheck = Date.now()
    status.lowChecks = live.length < factor ? status.lowChecks + 1 : 0
    if (live.length < factor && (immediate || status.lowChecks >= repairAfterChecks) && await this.leads(cid, live, immediate || status.lowChecks > repairAfterChecks)) {
      await this.repair(cid, status)
    } else if (live.length < factor && !immediate && status.lowChecks <= repairAfterChecks) {
      // a replica holder repairs one check after a local pin would (`leads`): confirm up to that one
      this.confirm(cid, key)
    }
    if (live.length > maxCopies && await this.trims(cid, live)) {
      await this.dropOwnReplica(cid, status)
    }
    this.emit(status)
    return this.status(cid)!
  }

  /** Schedules a check of `cid` after the confirmation delay, unless one is scheduled. */
  private confirm (cid: CID, key: string): void {
    if (this.confirmations.has(key) || this.timer == null) {
      return
    }
    const delay = Math.min(CONFIRM_CHECK_DELAY_MS, this.init.checkIntervalMs / 4)
    const status = this.statuses.get(key)
    this.log.info('copies below target, checking again', { cid: key, live: status?.live.length, target: this.init.factor, inMs: Math.round(delay) })
    const timer = setTimeout(() => {
      this.confirmations.delete(key)
      this.confirmCheck(cid).catch((err: unknown) => { this.log.warn('replication check failed', { cid: key, error: errorText(err) }) })
    }, delay)
    timer.unref?.()
    this.confirmations.set(key, timer)
  }

  /** The confirmation check, for content still pinned whole (it may have been released or dropped meanwhile). */
  private async confirmCheck (cid: CID): Promise<void> {
    // stopped meanwhile: the store may be closing
    if (this.timer == null || this.components.shutdown.aborted) {
      return
    }
    const pin = await this.components.pins.get(cid)
    if (pin?.state === 'complete' && !this.components.shutdown.aborted) {
      await this.ensureReplication(cid, [], false)
    }
  }

  /**
   * Every holder checks what it holds, so copies are healed after the
   * publisher is gone too; to keep several holders from repairing the same
   * loss at once, a replica holder repairs only when it has the lowest peer
   * id among the live holders. While the peer it holds the copy for (the
   * publisher, as a rule) is among them, it repairs one check later than a
   * local pin would (`late`), so that peer repairs first; once that peer is
   * gone there is nobody to wait for. A copy made by a repair is held for the
   * peer that repaired: when that peer is gone and the publisher is live,
   * both repair and the count may end one above the factor (inside the band,
   * where nothing is trimmed).
   */
  private async leads (cid: CID, live: string[], late: boolean): Promise<boolean> {
    const pin = await this.components.pins.get(cid)
    if (pin?.kind !== 'replica') {
      return true
    }
    const self = this.components.peerId.toString()
    // a copy whose peer is unknown waits as if that peer were there
    const waits = pin.for == null || live.includes(pin.for)
    return (late || !waits) && live.every(id => id >= self)
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
    const pin = await this.components.pins.get(cid)
    const self = this.components.peerId.toString()
    return pin?.kind === 'replica' && live.filter(id => id < self).length >= this.init.maxCopies
  }

  private async dropOwnReplica (cid: CID, status: ReplicationStatus): Promise<void> {
    await this.components.fetcher.dropReplica(cid)
    status.live = status.live.filter(id => id !== this.components.peerId.toString())
    status.copiesDropped++
  }

  private async liveHolders (cid: CID, known: Array<string | PeerId>): Promise<string[]> {
    const { peerId, pins, discovery, shutdown } = this.components
    const self = peerId.toString()
    const pin = await pins.get(cid)
    const candidates = new Map<string, PeerId>()
    for (const peer of known) {
      const id = typeof peer === 'string' ? this.components.peerFromString(peer) : peer
      if (id != null) {
        candidates.set(id.toString(), id)
      }
    }
    try {
      const signal = AbortSignal.any([shutdown, AbortSignal.timeout(this.init.probeTimeoutMs * HOLDER_SEARCH_PROBE_DEADLINES)])
      for await (const provider of discovery.findProviders(cid, this.init.maxHoldersSearched, { signal })) {
        await this.components.addPeerAddresses?.(provider.peerId, provider.multiaddrs, { signal })
        candidates.set(provider.peerId.toString(), provider.peerId)
      }
    } catch (err) {
      // a search that fails finds nobody new
      this.log.debug('holder search failed', { cid: cidToString(cid), error: errorText(err) })
    }
    candidates.delete(self)
    const probes = new PQueue({ concurrency: PROBE_CONCURRENCY })
    const alive = await probes.addAll([...candidates.values()].map(peer => async () => this.probe(peer, cid)))
    const live = [...candidates.keys()].filter((_, i) => alive[i])
    return pin?.state === 'complete' ? [self, ...live] : live
  }

  /** True when `peer` answers with the manifest block (it is online and holds the content). */
  private async probe (peer: PeerId, cid: CID): Promise<boolean> {
    const { network, shutdown } = this.components
    if (network.isBanned(peer)) {
      return false
    }
    for (let busy = 0; ; busy++) {
      try {
        await network.retrieveBlock(peer, cid, { signal: shutdown, timeoutMs: this.init.probeTimeoutMs })
        return true
      } catch (err) {
        // BUSY says nothing of whether it holds the content: ask again once it is ready
        if (!(err instanceof BusyError) || busy >= MAX_BUSY_PROBES || shutdown.aborted) {
          return false
        }
        // the sleep ends early only when the node stops, which the loop checks
        await sleep(Math.min(err.retryAfterMs > 0 ? err.retryAfterMs : BUSY_PROBE_WAIT_MS, this.init.probeTimeoutMs), shutdown).catch(() => {})
      }
    }
  }

  private async repair (cid: CID, status: ReplicationStatus): Promise<void> {
    this.log.info('repair started', { cid: cidToString(cid), live: status.live.length, target: this.init.factor })
    status.repairing = true
    this.emit(status)
    const { peerId: self, network, shutdown } = this.components
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
        if (holders.has(id) || target.equals(self) || network.isBanned(target) || (refusedAt != null && Date.now() - refusedAt < REFUSAL_MEMORY_MS)) {
          continue
        }
        try {
          await this.instructReplicate(target, cid, sources, shutdown)
          holders.add(id)
          status.copiesRequested++
        } catch (err) {
          // a BUSY peer did not refuse: the next check asks it again
          if (err instanceof DdsError && !(err instanceof BusyError)) {
            this.refused.set(`${key}/${id}`, Date.now())
          }
          status.lastError = `${id}: ${(err as Error).message}`
        }
      }
      // peers that accepted count as holders until a later check finds otherwise
      status.live = [...holders]
      this.log.info('repair finished', { cid: key, live: holders.size, target: this.init.factor, lastError: holders.size < this.init.factor ? status.lastError : undefined })
    } finally {
      status.repairing = false
    }
  }

  private async checkAll (): Promise<void> {
    if (this.checking || this.components.shutdown.aborted) {
      return
    }
    this.checking = true
    try {
      for await (const pin of this.components.pins.list()) {
        if (pin.state === 'complete') {
          await this.ensureReplication(pin.manifest, [], false).catch((err: unknown) => {
            this.log.warn('replication check failed', { cid: cidToString(pin.manifest), error: errorText(err) })
          })
        }
      }
    } finally {
      this.checking = false
    }
  }

  private emit (status: ReplicationStatus): void {
    this.components.events.dispatchEvent(new CustomProgressEvent('replication:status', { ...status, live: [...status.live] }))
  }
}
