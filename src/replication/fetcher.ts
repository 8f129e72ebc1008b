import type { CID } from 'multiformats/cid'
import { cidToString } from '../cid.js'
import { AbortError, IntegrityError } from '../errors.js'
import { chunkCount, isCollection, storedEntries, type Manifest } from '../manifest/index.js'
import type { RetrievalService, RetrieveProgressEvents } from '../retrieval/index.js'
import type { StorageProvider } from '../storage/index.js'
import type { GcLock } from './lock.js'
import { errorText, silentLog, type DdsLogger } from '../log/index.js'
import type { Pin, PinIndex } from './pins.js'

/** What a pin fetch may know before it starts. */
export interface FetchExtra {
  /** For replicas: the peer that asked for the copy. */
  for?: string
  /** Peers the fetch may start from. */
  sources?: string[]
  /** The manifest, when the caller has already checked it. */
  manifest?: Manifest
  /** Called as the content comes in (also when this call joins a fetch already running). */
  onProgress?: (progress: PinProgress) => void
}

/** How far a pin fetch has come. */
export interface PinProgress {
  /** The manifest CID, base58btc. */
  cid: string
  /** Content size in bytes. */
  size: number
  /** Chunks of the content. */
  chunks: number
  /** Bytes of the content in the store so far (read locally or fetched). */
  bytes: number
  /** Chunks in the store so far. */
  chunksDone: number
}

/** Who follows a fetch's progress, and the last progress reported (for those who join later). */
interface Followers {
  listeners: Set<(progress: PinProgress) => void>
  last?: PinProgress
}

/** One fetch running: its work, what stops it, and who follows its progress. */
interface RunningFetch {
  work: Promise<Pin>
  controller: AbortController
  followers: Followers
}

/** What pin fetching needs. */
export interface PinFetcherComponents {
  storage: StorageProvider
  retrieval: Pick<RetrievalService, 'resolveManifest' | 'content'>
  pins: PinIndex
  lock: GcLock
  /** Announces content this node now holds. */
  announceContent(cid: CID): void
  /** Aborted when the node stops: every fetch ends, and keeps its pin for the next start. */
  shutdown: AbortSignal
  /** @default nothing is logged */
  log?: DdsLogger
}

/**
 * Fetches content into the store and pins it, one fetch per content at a
 * time: a second request for a content being fetched joins the running one.
 */
export class PinFetcher {
  private readonly components: PinFetcherComponents
  private readonly fetching = new Map<string, RunningFetch>()

  private readonly log: DdsLogger

  constructor (components: PinFetcherComponents) {
    this.components = components
    this.log = components.log ?? silentLog
  }

  /** True while `key` (a manifest CID string) is being fetched. */
  isFetching (key: string): boolean {
    return this.fetching.has(key)
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
  async fetchAndPin (cid: CID, kind: Pin['kind'], extra: FetchExtra = {}, signal?: AbortSignal): Promise<Pin> {
    const key = cidToString(cid)
    const running = this.fetching.get(key)
    if (running != null) {
      const { followers } = running
      const listener = extra.onProgress
      if (listener != null) {
        followers.listeners.add(listener)
        if (followers.last != null) {
          listener(followers.last)
        }
      }
      try {
        const pin = await running.work
        return kind === 'local' ? this.promote(pin) : pin
      } finally {
        if (listener != null) {
          followers.listeners.delete(listener)
        }
      }
    }
    const controller = new AbortController()
    const followers: Followers = { listeners: new Set(extra.onProgress != null ? [extra.onProgress] : []) }
    const report = (progress: PinProgress): void => {
      followers.last = progress
      for (const listener of followers.listeners) {
        try {
          listener(progress)
        } catch (err) {
          // a follower's failure is not the fetch's
          this.log.debug('a pin progress listener threw', { cid: key, error: errorText(err) })
        }
      }
    }
    const work = this.components.lock.withShared(async () => this.fetchLocked(cid, key, kind, extra, signal, controller, report))
    this.fetching.set(key, { work, controller, followers })
    const { log } = this
    const { shutdown } = this.components
    const started = Date.now()
    try {
      const pin = await work
      if (pin.kind === 'replica') {
        log.info('replica stored', { cid: key, for: pin.for, size: pin.size, ms: Date.now() - started })
      } else {
        log.info('pinned', { cid: key, name: pin.name, size: pin.size, ms: Date.now() - started })
      }
      return pin
    } catch (err) {
      if (shutdown.aborted || controller.signal.aborted) {
        log.debug('fetch stopped', { cid: key, kind, reason: errorText(err) })
      } else {
        log.warn(kind === 'replica' ? 'replica fetch failed' : 'pin failed', { cid: key, for: extra.for, error: errorText(err) })
      }
      throw err
    } finally {
      this.fetching.delete(key)
    }
  }

  /** Stops a running fetch of `cid` (its pin is being removed). */
  cancelFetch (cid: CID): void {
    this.fetching.get(cidToString(cid))?.controller.abort(new AbortError('the pin was removed'))
  }

  /**
   * Stops holding a replica: removes its pin and its manifest block at once
   * (so this node no longer answers probes for it and is no longer counted
   * as a holder); the other blocks go at the next gc.
   */
  async dropReplica (cid: CID): Promise<void> {
    this.cancelFetch(cid)
    await this.components.pins.delete(cid)
    await this.components.storage.delete(cid)
  }

  /** Finishes what a restart interrupted, and announces again what is held. */
  async resume (): Promise<void> {
    for await (const pin of this.components.pins.list()) {
      if (pin.state === 'fetching') {
        // a failure is logged by fetchAndPin; the pin stays for the next start
        this.fetchAndPin(pin.manifest, pin.kind, { for: pin.for, sources: pin.sources }).catch(() => {})
      } else {
        this.components.announceContent(pin.manifest)
      }
    }
  }

  /** Settles once every running fetch has ended (after `shutdown` aborted them). */
  async settled (): Promise<void> {
    await Promise.allSettled([...this.fetching.values()].map(async f => f.work))
  }

  private async promote (pin: Pin): Promise<Pin> {
    if (pin.kind !== 'replica') {
      return pin
    }
    const promoted: Pin = { ...pin, kind: 'local' }
    delete promoted.for
    await this.components.pins.put(promoted)
    return promoted
  }

  private async fetchLocked (cid: CID, key: string, kind: Pin['kind'], extra: FetchExtra, signal: AbortSignal | undefined, controller: AbortController, report: (progress: PinProgress) => void): Promise<Pin> {
    const { pins, retrieval, storage, shutdown } = this.components
    const existing = await pins.get(cid)
    if (existing?.state === 'complete') {
      report({ cid: key, size: existing.size, chunks: chunkCount(existing.size), bytes: existing.size, chunksDone: chunkCount(existing.size) })
      return kind === 'local' ? this.promote(existing) : existing
    }
    const combined = AbortSignal.any([controller.signal, shutdown, ...(signal != null ? [signal] : [])])
    // the manifest is fetched and checked before any pin is written
    const resolved = await retrieval.resolveManifest(cid, { signal: combined })
    const pin: Pin = {
      cid: key,
      kind: existing?.kind === 'local' ? 'local' : kind,
      state: 'fetching',
      size: resolved.manifest.size,
      ...(resolved.manifest.name != null ? { name: resolved.manifest.name } : {}),
      pinnedAt: existing?.pinnedAt ?? Date.now(),
      ...(extra.for != null && kind === 'replica' ? { for: extra.for } : {}),
      ...(extra.sources != null ? { sources: extra.sources } : {})
    }
    await pins.put(pin)
    const progress: PinProgress = { cid: key, size: resolved.manifest.size, chunks: chunkCount(resolved.manifest.size), bytes: 0, chunksDone: 0 }
    report({ ...progress })
    try {
      const onProgress = (event: RetrieveProgressEvents): void => {
        if (event.type === 'dds:retrieve:chunk') {
          progress.chunksDone++
        }
      }
      for await (const bytes of retrieval.content(resolved, { signal: combined, store: true, onProgress })) {
        progress.bytes += bytes.byteLength
        report({ ...progress })
      }
      // a collection is held with its entries: each is fetched (and checked) after its list
      if (isCollection(resolved.manifest)) {
        const entries = await storedEntries(cid, resolved.manifest, async (block) => storage.get(block, { signal: combined }), { signal: combined })
        if (entries == null) {
          throw new IntegrityError(`the list of the collection ${key} does not decode`)
        }
        // the pin counts what the collection holds: its list and every entry
        pin.size = entries.reduce((sum, e) => sum + e.size, resolved.manifest.size)
        const seen = new Set<string>()
        for (const entry of entries) {
          if (seen.has(entry.cid.toString())) {
            continue
          }
          seen.add(entry.cid.toString())
          const entryResolved = await retrieval.resolveManifest(entry.cid, { signal: combined, store: true })
          if (entryResolved.manifest.size !== entry.size) {
            entryResolved.close()
            throw new IntegrityError(`entry ${entry.path} of the collection ${key} has ${entryResolved.manifest.size} bytes where the collection says ${entry.size}`)
          }
          for await (const bytes of retrieval.content(entryResolved, { signal: combined, store: true, onProgress })) {
            progress.bytes += bytes.byteLength
            report({ ...progress })
          }
          await storage.put(entry.cid, entryResolved.bytes)
        }
      }
      await storage.put(cid, resolved.bytes)
    } catch (err) {
      // A new fetch that fails leaves no pin behind. A resumed one (its pin
      // was already `fetching` when this call began, e.g. after a crash) keeps
      // its pin and its blocks for the next start: a node that comes back up
      // while its sources are unreachable does not throw away the progress.
      if (!shutdown.aborted && existing?.state !== 'fetching') {
        await pins.delete(cid)
      }
      throw err
    }
    if ((await pins.get(cid)) == null) {
      throw new AbortError('the pin was removed while its content was fetched')
    }
    const done: Pin = { ...pin, state: 'complete' }
    await pins.put(done)
    this.components.announceContent(cid)
    return done
  }
}
