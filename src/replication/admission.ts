import type { PeerId } from '@libp2p/interface'
import { peerIdFromMultihash } from '@libp2p/peer-id'
import type { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import PQueue from 'p-queue'
import { cidToString, parseCid } from '../cid.js'
import { Status } from '../pb/index.js'
import { holdingSize, type RetrievalService } from '../retrieval/index.js'
import { refusal, type ReplicaPolicy } from './accept.js'
import type { PinFetcher } from './fetcher.js'
import type { PinIndex } from './pins.js'
import type { StorageProvider } from '../storage/index.js'
import { silentLog, type DdsLogger } from '../log/index.js'

/** What admission of replicas needs. */
export interface AdmissionComponents {
  pins: PinIndex
  retrieval: Pick<RetrievalService, 'resolveManifest' | 'content'>
  fetcher: Pick<PinFetcher, 'fetchAndPin' | 'isFetching'>
  /** Aborted when the node stops: instructions are answered BUSY from then on. */
  shutdown: AbortSignal
  /** The store, whose size counts against `maxStoredBytes`. */
  storage: Pick<StorageProvider, 'stats'>
  /** Store size past which this node takes nothing more for others (the network's `maxStoredBytes`). */
  maxStoredBytes: number
  /** @default nothing is logged */
  log?: DdsLogger
  /**
   * A replica is held whole: `holders` are the peers known to hold it (the
   * one that asked for the copy and the sources named), for the health
   * checks to watch until this node's own first check of it.
   */
  onReplicaHeld?(cid: CID, holders: string[]): void
}

/** The limits admission enforces (a slice of the resolved ReplicationInit). */
export interface AdmissionInit {
  accept: ReplicaPolicy
  quotaBytes: number
  perPeerShare: number
  maxReplicaFetches: number
}

/** An answer to a ReplicationInstruction. */
export interface InstructionAnswer {
  status: Status
  error?: string
}

/**
 * The accepting side of ReplicationInstructions: decides what this node
 * holds for others (the accept policy, the quota, a peer's share of it, and
 * how many replica fetches run at once) and starts the fetches it accepts.
 */
export class Admission {
  private readonly components: AdmissionComponents
  private readonly init: AdmissionInit
  /** Checks the quota and reserves against it one instruction at a time. */
  private readonly admissions = new PQueue({ concurrency: 1 })
  /** Replicas accepted and not yet fetched: bytes reserved against the quota. */
  private readonly reserved = new Map<string, { bytes: number, for: string }>()

  private readonly log: DdsLogger

  constructor (components: AdmissionComponents, init: AdmissionInit) {
    this.components = components
    this.log = components.log ?? silentLog
    this.init = init
  }

  /**
   * Checks the policy and the quota against the content's size (fetching
   * only its manifest; the bytes are reserved at once, so concurrent
   * instructions cannot overshoot the quota), then answers OK and fetches
   * the content in the background, at most `maxReplicaFetches` at a time.
   */
  async handleInstruction (cid: CID, sources: Uint8Array[], from: PeerId, signal: AbortSignal): Promise<InstructionAnswer> {
    const answer = await this.decide(cid, sources, from, signal)
    const { log } = this
    if (answer.status === Status.REJECTED) {
      log.info('replica refused', { cid: cidToString(cid), from: from.toString(), reason: answer.error })
    } else if (answer.status !== Status.OK) {
      log.debug('replica instruction not taken', { cid: cidToString(cid), from: from.toString(), status: Status[answer.status], reason: answer.error })
    }
    return answer
  }

  private async decide (cid: CID, sources: Uint8Array[], from: PeerId, signal: AbortSignal): Promise<InstructionAnswer> {
    const { pins, retrieval, fetcher, shutdown } = this.components
    if (shutdown.aborted) {
      return { status: Status.BUSY, error: 'this node is stopping' }
    }
    const key = cidToString(cid)
    const existing = await pins.get(cid)
    if (existing?.state === 'complete' || fetcher.isFetching(key) || this.reserved.has(key)) {
      return { status: Status.OK }
    }
    const { accept } = this.init
    if (accept === 'none' || (Array.isArray(accept) && !accept.includes(from.toString()))) {
      return { status: Status.REJECTED, error: refusal(accept, from, 0, { total: 0, fromPeer: 0 }, this.init) }
    }
    if (this.reserved.size >= this.init.maxReplicaFetches) {
      return { status: Status.BUSY, error: `this node is already fetching ${this.reserved.size} replicas; ask again later` }
    }
    let resolved
    let size: number
    try {
      resolved = await retrieval.resolveManifest(cid, { signal })
      resolved.close()
      // a collection holds its entries too: they count against the quota
      size = await holdingSize(retrieval, resolved, { signal })
    } catch (err) {
      return { status: Status.NOT_FOUND, error: `could not fetch the manifest: ${(err as Error).message}` }
    }
    const manifest = resolved.manifest
    // check and reserve as one step, so concurrent instructions see each other's reservations
    const verdict = await this.admissions.add(async () => this.reserve(key, size, from))
    if (verdict != null) {
      return verdict
    }
    const sourceIds = sources.flatMap(bytes => { try { return [peerIdFromMultihash(Digest.decode(bytes)).toString()] } catch { return [] } })
    this.log.info('replica accepted', { cid: key, from: from.toString(), size: manifest.size, name: manifest.name })
    // a failure is logged by fetchAndPin
    fetcher.fetchAndPin(cid, 'replica', { for: from.toString(), sources: sourceIds, manifest })
      .then(() => { this.components.onReplicaHeld?.(cid, [from.toString(), ...sourceIds]) })
      .catch(() => {})
      .finally(() => { this.reserved.delete(key) })
    return { status: Status.OK }
  }

  /** Reserves `size` bytes for `from`'s copy of `key`, or says why not. */
  private async reserve (key: string, size: number, from: PeerId): Promise<InstructionAnswer | undefined> {
    const usage = await this.replicaUsage(from)
    const reason = refusal(this.init.accept, from, size, usage, this.init)
    if (reason != null) {
      return { status: Status.REJECTED, error: reason }
    }
    // the store cap holds for replicas as for StoreChunk: what is stored
    // now, plus what accepted fetches will still write, plus this content
    const { maxStoredBytes, storage } = this.components
    const stored = (await storage.stats()).bytes
    const pending = [...this.reserved.values()].reduce((sum, r) => sum + r.bytes, 0)
    if (stored + pending + size > maxStoredBytes) {
      return { status: Status.REJECTED, error: `this node's store is full: ${stored} bytes stored and ${pending} being fetched; ${size} more would pass its limit of ${maxStoredBytes} bytes` }
    }
    if (this.reserved.size >= this.init.maxReplicaFetches || this.reserved.has(key)) {
      return { status: Status.BUSY, error: 'this node is already fetching replicas; ask again later' }
    }
    this.reserved.set(key, { bytes: size, for: from.toString() })
    return undefined
  }

  /** Bytes of replicas held or being fetched, in all and for `from`; reservations of fetches not yet pinned count too. */
  private async replicaUsage (from: PeerId): Promise<{ total: number, fromPeer: number }> {
    const usage = await this.usage()
    return { total: usage.total, fromPeer: usage.byPeer.get(from.toString()) ?? 0 }
  }

  /** The limits this node admits replicas within. */
  get limits (): { accept: ReplicaPolicy, quotaBytes: number, perPeerShare: number } {
    return { accept: this.init.accept, quotaBytes: this.init.quotaBytes, perPeerShare: this.init.perPeerShare }
  }

  /**
   * Bytes counted against the quota: replicas held or being fetched, and
   * reservations of accepted fetches not pinned yet; in all and per peer.
   */
  async usage (): Promise<{ total: number, byPeer: Map<string, number> }> {
    const { pins } = this.components
    const usage = { total: 0, byPeer: new Map<string, number>() }
    const add = (peer: string | undefined, bytes: number): void => {
      usage.total += bytes
      if (peer != null) {
        usage.byPeer.set(peer, (usage.byPeer.get(peer) ?? 0) + bytes)
      }
    }
    for (const [key, reservation] of this.reserved) {
      if ((await pins.get(parseCid(key))) != null) {
        continue // counted below from its pin
      }
      add(reservation.for, reservation.bytes)
    }
    for await (const pin of pins.list()) {
      if (pin.kind === 'replica') {
        add(pin.for, pin.size)
      }
    }
    return usage
  }
}
