import type { AbortOptions } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import { cidToString } from '../cid.js'
import { throwIfAborted } from '../errors.js'
import { componentLog, errorText, silentLog, type DdsLogger } from '../log/index.js'
import { AnnounceQueue } from '../discovery/announce-queue.js'
import type { ProvideResult } from '../discovery/index.js'
import { chunkCount, contentBlocks, decodeManifest, isCollection, isManifestBlock, storedEntries, type Manifest } from '../manifest/index.js'
import { REANNOUNCE_DELAY_MS, REANNOUNCE_PARTS, REANNOUNCE_PEER_WAIT_MS, SWEEP_FAILURES_LOGGED } from './constants.js'
import type { AnnounceStrategy, Announcer, AnnouncerComponents, ReannounceReport } from './index.js'

/** The Announcer implementation; created through `announcer()`. */
export class DdsAnnouncer implements Announcer {
  readonly strategy: AnnounceStrategy
  private readonly components: AnnouncerComponents
  private readonly queue: AnnounceQueue
  private readonly unannounced = new Unannounced()
  private readonly onPeerConnect = (): void => { this.scheduleReannounce() }
  private timer?: ReturnType<typeof setTimeout>
  /** Settles when the re-announcement scheduled on a new connection has queued its announcements. */
  private reannouncing?: PromiseWithResolvers<void>
  private running = false
  /** Reads of the store still deciding what to queue (`announceHeld`, `announceBlock`); `onIdle` waits for them. */
  private readonly reading = new Set<Promise<void>>()

  private readonly log: DdsLogger
  private readonly partMs: number
  private cycleTimer?: ReturnType<typeof setTimeout>
  private cycleController?: AbortController
  lastReannounce?: ReannounceReport

  constructor (components: AnnouncerComponents, strategy: AnnounceStrategy, partMs: number) {
    this.components = components
    this.log = components.logger != null ? componentLog(components.logger, 'dds:announce') : silentLog
    this.strategy = strategy
    this.partMs = partMs
    this.queue = new AnnounceQueue(components.discovery, {
      onSweepFailures: (failures, records, failedPeers) => { this.log.warn('some announcements did not reach DHT peers', { records, failedPeers, failures: quoted(failures) }) }
    })
  }

  get pending (): number {
    return this.queue.pending
  }

  start (): void {
    this.running = true
    // Content announced while this node knew no DHT peer is announced again
    // as soon as it connects to one (the DHT itself would wait 24 hours).
    this.components.libp2p.addEventListener('peer:connect', this.onPeerConnect)
    if (this.strategy !== 'none' && this.components.discovery.reannouncePart != null) {
      this.cycleController = new AbortController()
      this.scheduleCyclePart()
    }
  }

  stop (): void {
    this.running = false
    clearTimeout(this.timer)
    clearTimeout(this.cycleTimer)
    this.cycleController?.abort()
    this.settleReannouncing()
    this.components.libp2p.removeEventListener('peer:connect', this.onPeerConnect)
    this.queue.stop()
  }

  async announcePublished (cid: CID, manifest: Manifest, options: AbortOptions = {}): Promise<ProvideResult | undefined> {
    if (this.strategy === 'none') {
      return undefined
    }
    const result = await this.components.discovery.provide(cid, options).catch((err: Error) => {
      throwIfAborted(options.signal, 'publish')
      return { peers: 0, error: err }
    })
    this.unannounced.record(cid, result.peers)
    if (result.peers === 0 && this.components.libp2p.getConnections().length > 0) {
      // connected, but the DHT may not have taken the peer into its routing table yet
      this.scheduleReannounce()
    }
    await this.announceOtherBlocks(cid, manifest).catch((err: unknown) => {
      this.log.warn('the blocks of published content could not be queued for announcement', { cid: cidToString(cid), error: errorText(err) })
    })
    return result
  }

  announceHeld (cid: CID): void {
    if (this.strategy === 'none' || !this.running) {
      return
    }
    this.queue.add([cid])
    this.read(async () => {
      const bytes = await this.components.storage.get(cid)
      if (bytes != null && this.running) {
        await this.announceOtherBlocks(cid, decodeManifest(bytes))
      }
    }, 'held content could not be announced', cid)
  }

  announceBlock (cid: CID): void {
    if (this.strategy !== 'manifest') {
      this.queue.add([cid])
      return
    }
    // with 'manifest', only a manifest: a chunk a peer pushed here is found
    // through the manifest that names it
    this.read(async () => {
      const bytes = await this.components.storage.get(cid)
      if (bytes != null && this.running && isManifestBlock(bytes)) {
        this.queue.add([cid])
      }
    }, 'a stored block could not be announced', cid)
  }

  async onIdle (): Promise<void> {
    await this.reannouncing?.promise
    while (this.reading.size > 0) {
      await Promise.all(this.reading)
    }
    await this.queue.onIdle()
  }

  /**
   * Waits for the start of the next part of the re-announcement cycle (the
   * clock says which part: a node that restarts carries on where the cycle
   * is), then announces that part's records again in one sweep.
   */
  private scheduleCyclePart (): void {
    const now = Date.now()
    const wait = this.partMs - (now % this.partMs)
    this.cycleTimer = setTimeout(() => {
      const part = Math.floor((now + wait) / this.partMs) % REANNOUNCE_PARTS
      this.reannouncePart(part).finally(() => {
        if (this.running) {
          this.scheduleCyclePart()
        }
      // reannouncePart logs and records its failure; what is left cannot fail
      }).catch(() => {})
    }, wait)
    this.cycleTimer.unref?.()
  }

  private async reannouncePart (part: number): Promise<void> {
    const started = performance.now()
    const report: ReannounceReport = { part, parts: REANNOUNCE_PARTS, records: 0, reached: 0, at: 0, ms: 0 }
    try {
      const result = await this.components.discovery.reannouncePart!(part, REANNOUNCE_PARTS, { signal: this.cycleController?.signal })
      report.records = result.records
      report.reached = result.reached
      if (result.failures != null) {
        report.failures = result.failures
        report.failedPeers = result.failedPeers ?? result.failures.length
      }
    } catch (err) {
      report.error = errorText(err)
    }
    report.ms = Math.round(performance.now() - started)
    report.at = Date.now()
    this.lastReannounce = report
    if (report.error != null) {
      this.log.warn('re-announcing a part of the key space failed', { part: `${part + 1}/${REANNOUNCE_PARTS}`, error: report.error })
    } else if (report.records > 0) {
      this.log.info('re-announced held records', { part: `${part + 1}/${REANNOUNCE_PARTS}`, records: report.records, reached: report.reached, ms: report.ms })
    }
    if (report.failures != null) {
      this.log.warn('some re-announcements did not reach DHT peers', { part: `${part + 1}/${REANNOUNCE_PARTS}`, failedPeers: report.failedPeers, failures: quoted(report.failures) })
    }
  }

  /** Runs a read of the store that decides what to queue; `onIdle` waits for it, a failure is logged. */
  private read (task: () => Promise<void>, failure: string, cid: CID): void {
    const reading: Promise<void> = task()
      .catch((err: unknown) => { this.log.warn(failure, { cid: cidToString(cid), error: errorText(err) }) })
      .finally(() => { this.reading.delete(reading) })
    this.reading.add(reading)
  }

  /**
   * Queues what content holds beside its own manifest. With strategy
   * `'all'`: every other block, read back from the store as the queue gets
   * to them. With `'manifest'`: a collection's entries, each content that
   * peers may ask for by its own CID (a track of an album).
   */
  private async announceOtherBlocks (cid: CID, manifest: Manifest): Promise<void> {
    const read = async (block: CID): Promise<Uint8Array | undefined> => this.components.storage.get(block)
    if (this.strategy === 'all') {
      this.queue.addSource(withoutLast(contentBlocks(cid, manifest, read)), chunkCount(manifest.size) + (manifest.children?.length ?? 0))
    } else if (this.strategy === 'manifest' && isCollection(manifest)) {
      const entries = await storedEntries(cid, manifest, read)
      this.queue.add((entries ?? []).map(entry => entry.cid))
    }
  }

  /**
   * Announces again, shortly, what reached no DHT peer: called when a peer
   * connects, and when an announcement reached nobody while this node had
   * connections. The re-announcement waits for a DHT peer, up to
   * `REANNOUNCE_PEER_WAIT_MS`.
   */
  private scheduleReannounce (): void {
    if (this.unannounced.size > 0 && this.running) {
      clearTimeout(this.timer)
      this.reannouncing ??= Promise.withResolvers<void>()
      this.timer = setTimeout(() => {
        this.reannounce()
          .catch((err: unknown) => { this.log.debug('re-announcement failed', { error: errorText(err) }) })
          .finally(() => { this.settleReannouncing() })
      }, REANNOUNCE_DELAY_MS)
      this.timer.unref?.()
    }
  }

  private async reannounce (): Promise<void> {
    const ready = await this.components.discovery.waitForPeers?.({ signal: AbortSignal.timeout(REANNOUNCE_PEER_WAIT_MS) }) ?? true
    if (ready && this.running) {
      for (const cid of this.unannounced.take()) {
        this.announceHeld(cid)
      }
    }
  }

  private settleReannouncing (): void {
    const pending = this.reannouncing
    this.reannouncing = undefined
    pending?.resolve()
  }
}

/** Every CID a source yields but the last (the manifest, announced on its own). */
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

/** The first reasons a sweep gave for peers it could not reach, for one log line. */
function quoted (failures: string[]): string {
  return failures.slice(0, SWEEP_FAILURES_LOGGED).join('; ')
}
