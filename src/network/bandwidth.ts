/**
 * Bandwidth limits of the DDS protocol's chunk traffic: token buckets for
 * what this node uploads (RetrieveChunk answers it sends, StoreChunk data it
 * pushes), in total and per peer, and for what it downloads (RetrieveChunk
 * answers it receives, replica fetches included, and StoreChunk data peers
 * push to it).
 *
 * A bucket holds up to `rate * BANDWIDTH_BURST_MS / 1000` bytes (at least
 * `MIN_BANDWIDTH_BURST` bytes): after a quiet spell that much leaves at
 * once, then the rate holds. A frame larger than what the bucket holds still
 * goes, and puts the bucket in debt that the next frames wait out, so no
 * frame size can stall the limiter. Takers of the node-wide upload are served
 * in turn, one frame each: round-robin over the address prefixes that have a
 * frame waiting, and within a prefix over its peers (see {@link FairTurns}),
 * so a peer that keeps many answers waiting gets no more of the upload than
 * one that keeps a few, and identities made up on one network share one
 * turn.
 *
 * @module
 */

import { InvalidInputError, abortReason, throwIfAborted } from '../errors.js'
import { numberOption } from '../options.js'
import { CHUNK_SIZE } from '../cid.js'
import type { ResponseProps } from '../pb/index.js'

/** How long a full bucket lets traffic go at line speed, in ms of its rate. */
export const BANDWIDTH_BURST_MS = 250
/** The least a bucket holds, in bytes: one default chunk (256 KiB) plus its frame, so a chunk never waits on an idle link. */
export const MIN_BANDWIDTH_BURST = 256 * 1024 + 1024
/** The lowest rate a limit may have, in bytes per second (a 256 KiB chunk then takes 4 s). */
export const MIN_BANDWIDTH_RATE = 64 * 1024

/**
 * Limits of a node's chunk traffic, in bytes per second; each is optional
 * and unset means unlimited.
 */
export interface BandwidthInit {
  /** Everything this node uploads, over all peers. */
  upload?: number
  /** Everything this node downloads, over all peers. */
  download?: number
  /** What this node uploads to any one peer, on top of `upload`. */
  uploadPerPeer?: number
}

/** What one direction of the limiter has done since the node started. */
export interface BandwidthDirectionStats {
  /** Bytes that went through the limiter. */
  bytes: number
  /** Times a frame waited for tokens. */
  waits: number
  /** Time frames spent waiting for tokens, in ms (waits in parallel add up). */
  waitMs: number
}

/** The limits in force and what went through them. */
export interface BandwidthStats {
  /** The configured limits in bytes per second; absent ones are unlimited. */
  limits: BandwidthInit
  upload: BandwidthDirectionStats
  download: BandwidthDirectionStats
  /**
   * The pacing of competing peers (`network.fairUpload`, src/network/shares.ts),
   * when it is on: it is, with no `upload` limit.
   */
  pacing?: { waits: number, waitMs: number }
}

/**
 * A token bucket against an injected clock (ms). `reserve(n)` takes `n`
 * tokens at once, going into debt if there are not enough, and says how
 * long to wait until they are paid for.
 */
export class TokenBucket {
  readonly rate: number
  readonly burst: number
  private tokens: number
  private last: number
  private readonly now: () => number

  /** `rate` in tokens per second, `burst` the most it holds; it starts full. */
  constructor (rate: number, burst: number, now: () => number = performance.now.bind(performance)) {
    this.rate = rate
    this.burst = burst
    this.now = now
    this.tokens = burst
    this.last = now()
  }

  /** Tokens available now (negative while in debt). */
  get available (): number {
    this.refill()
    return this.tokens
  }

  /** Takes `n` tokens; returns the ms to wait before using them (0: at once). */
  reserve (n: number): number {
    this.refill()
    this.tokens -= n
    return this.tokens >= 0 ? 0 : -this.tokens * 1000 / this.rate
  }

  /** Gives back `n` tokens reserved and not used. */
  refund (n: number): void {
    this.refill()
    this.tokens = Math.min(this.burst, this.tokens + n)
  }

  private refill (): void {
    const now = this.now()
    if (now > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + (now - this.last) * this.rate / 1000)
      this.last = now
    }
  }
}

/** One frame waiting for its turn at a bucket. */
interface Waiter {
  bytes: number
  signal?: AbortSignal
  resolve(): void
  reject(err: Error): void
  onAbort?(): void
}

/**
 * Turns at one token bucket, shared fairly: frames wait in a queue per peer,
 * peers in a ring per address prefix, prefixes in a ring; each turn goes to
 * the next prefix with a frame waiting, to its next peer, to that peer's
 * oldest frame, which then waits until the bucket has paid for it before
 * the next turn is given. A frame that arrives with nothing waiting and
 * tokens in the bucket goes at once.
 */
export class FairTurns {
  /** Prefix -> peer -> frames, each map in turn order (the next at the front). */
  private readonly rings = new Map<string, Map<string, Waiter[]>>()
  private running = false
  private readonly bucket: TokenBucket
  private readonly counters: BandwidthDirectionStats
  private readonly now: () => number

  constructor (bucket: TokenBucket, counters: BandwidthDirectionStats, now: () => number) {
    this.bucket = bucket
    this.counters = counters
    this.now = now
  }

  /** Frames waiting for a turn. */
  get waiting (): number {
    let n = 0
    for (const peers of this.rings.values()) {
      for (const frames of peers.values()) {
        n += frames.length
      }
    }
    return n
  }

  /** Waits for the turn of `bytes` sent to `peer` (of `prefix`); rejects with the signal's error if it aborts first. */
  async take (prefix: string, peer: string, bytes: number, signal?: AbortSignal): Promise<void> {
    if (!this.running && this.rings.size === 0 && this.bucket.available >= bytes) {
      this.bucket.reserve(bytes)
      return
    }
    const started = this.now()
    this.counters.waits++
    try {
      await new Promise<void>((resolve, reject) => {
        const waiter: Waiter = { bytes, signal, resolve, reject }
        let peers = this.rings.get(prefix)
        if (peers == null) {
          peers = new Map()
          this.rings.set(prefix, peers)
        }
        let frames = peers.get(peer)
        if (frames == null) {
          frames = []
          peers.set(peer, frames)
        }
        frames.push(waiter)
        if (signal != null) {
          waiter.onAbort = () => {
            if (this.remove(prefix, peer, waiter)) {
              reject(abortReason(signal, 'waiting for bandwidth'))
            }
          }
          signal.addEventListener('abort', waiter.onAbort, { once: true })
        }
        if (!this.running) {
          this.running = true
          void this.run()
        }
      })
    } finally {
      this.counters.waitMs += this.now() - started
    }
  }

  /** Gives turns until no frame waits. */
  private async run (): Promise<void> {
    try {
      for (let next = this.next(); next != null; next = this.next()) {
        const waiter = next
        if (waiter.onAbort != null) {
          waiter.signal?.removeEventListener('abort', waiter.onAbort)
        }
        if (waiter.signal?.aborted === true) {
          waiter.reject(abortReason(waiter.signal, 'waiting for bandwidth'))
          continue
        }
        const ms = this.bucket.reserve(waiter.bytes)
        if (ms > 0) {
          await new Promise<void>(resolve => setTimeout(resolve, Math.ceil(ms)))
        }
        waiter.resolve()
      }
    } finally {
      this.running = false
    }
  }

  /** Takes the frame whose turn it is, and moves its peer and prefix to the back of their rings. */
  private next (): Waiter | undefined {
    const first = this.rings.entries().next()
    if (first.done === true) {
      return undefined
    }
    const [prefix, peers] = first.value
    const [peer, frames] = peers.entries().next().value!
    const waiter = frames.shift()!
    peers.delete(peer)
    if (frames.length > 0) {
      peers.set(peer, frames)
    }
    this.rings.delete(prefix)
    if (peers.size > 0) {
      this.rings.set(prefix, peers)
    }
    return waiter
  }

  private remove (prefix: string, peer: string, waiter: Waiter): boolean {
    const peers = this.rings.get(prefix)
    const frames = peers?.get(peer)
    const at = frames?.indexOf(waiter) ?? -1
    if (at < 0) {
      return false
    }
    frames!.splice(at, 1)
    if (frames!.length === 0) {
      peers!.delete(peer)
      if (peers!.size === 0) {
        this.rings.delete(prefix)
      }
    }
    return true
  }
}

/** The burst of a bucket of `rate` bytes per second. */
export function burstFor (rate: number): number {
  return Math.max(MIN_BANDWIDTH_BURST, Math.ceil(rate * BANDWIDTH_BURST_MS / 1000))
}

/**
 * Checks the limits: each, when given, a whole number of bytes per second
 * from `MIN_BANDWIDTH_RATE` on.
 *
 * @throws {InvalidInputError} naming the first bad limit
 */
export function resolveBandwidthInit (init: BandwidthInit = {}): BandwidthInit {
  if (init == null || typeof init !== 'object' || Array.isArray(init)) {
    throw new InvalidInputError(`bandwidth must be an object such as { upload: 5242880 }, got ${String(init)}`)
  }
  const out: BandwidthInit = {}
  for (const key of ['upload', 'download', 'uploadPerPeer'] as const) {
    if (init[key] !== undefined) {
      out[key] = numberOption(`bandwidth.${key}`, init[key], 0, { min: MIN_BANDWIDTH_RATE })
    }
  }
  return out
}

/**
 * The limiter of one node. Callers check `limitsUpload` / `limitsDownload`
 * first: with no limit in that direction they skip it altogether.
 */
export class BandwidthLimiter {
  readonly limitsUpload: boolean
  readonly limitsDownload: boolean
  private readonly limits: BandwidthInit
  private readonly upload?: TokenBucket
  private readonly uploadTurns?: FairTurns
  private readonly download?: TokenBucket
  /** Per-peer upload buckets, kept until nobody waits on them and they are full again (dropped when a new one is made). */
  private readonly perPeer = new Map<string, { bucket: TokenBucket, users: number }>()
  private readonly now: () => number
  private readonly counters = {
    upload: { bytes: 0, waits: 0, waitMs: 0 },
    download: { bytes: 0, waits: 0, waitMs: 0 }
  }

  constructor (init: BandwidthInit = {}, now: () => number = performance.now.bind(performance)) {
    this.limits = resolveBandwidthInit(init)
    this.now = now
    const bucket = (rate?: number): TokenBucket | undefined => rate == null ? undefined : new TokenBucket(rate, burstFor(rate), now)
    this.upload = bucket(this.limits.upload)
    this.download = bucket(this.limits.download)
    this.uploadTurns = this.upload == null ? undefined : new FairTurns(this.upload, this.counters.upload, now)
    this.limitsUpload = this.upload != null || this.limits.uploadPerPeer != null
    this.limitsDownload = this.download != null
  }

  /** The limits and what went through them. */
  get stats (): BandwidthStats {
    return { limits: { ...this.limits }, upload: { ...this.counters.upload }, download: { ...this.counters.download } }
  }

  /** Peers with a per-peer bucket now (buckets do not outlive their use by more than a refill). */
  get peerBuckets (): number {
    this.prune()
    return this.perPeer.size
  }

  /** Drops the per-peer buckets nobody waits on that are full again (a new one would be the same). */
  private prune (): void {
    for (const [peer, entry] of this.perPeer) {
      if (entry.users === 0 && entry.bucket.available >= entry.bucket.burst) {
        this.perPeer.delete(peer)
      }
    }
  }

  /**
   * Waits until `bytes` may be sent to `peer`: its per-peer turn first, then
   * its fair turn at the node's (see {@link FairTurns}; `prefix` is the
   * peer's address prefix, the peer alone when not given). Rejects with the
   * signal's error if it aborts meanwhile (the tokens are given back).
   */
  async takeUpload (peer: string, bytes: number, signal?: AbortSignal, prefix = `peer:${peer}`): Promise<void> {
    throwIfAborted(signal, 'waiting for upload bandwidth')
    if (this.limits.uploadPerPeer != null) {
      let entry = this.perPeer.get(peer)
      if (entry == null) {
        this.prune()
        entry = { bucket: new TokenBucket(this.limits.uploadPerPeer, burstFor(this.limits.uploadPerPeer), this.now), users: 0 }
        this.perPeer.set(peer, entry)
      }
      entry.users++
      try {
        await this.wait(entry.bucket, bytes, this.counters.upload, signal)
      } finally {
        entry.users--
      }
    }
    if (this.uploadTurns != null) {
      await this.uploadTurns.take(prefix, peer, bytes, signal)
    }
    this.counters.upload.bytes += bytes
  }

  /**
   * Waits until `bytes` more may be received. A requester calls it before it
   * sends a request for that much (its deadline starts after), so the wait
   * is never counted as the peer's latency.
   */
  async takeDownload (bytes: number, signal?: AbortSignal): Promise<void> {
    throwIfAborted(signal, 'waiting for download bandwidth')
    if (this.download != null) {
      await this.wait(this.download, bytes, this.counters.download, signal)
    }
    this.counters.download.bytes += bytes
  }

  /**
   * Settles a download reserved with `takeDownload(reserved)` that brought
   * `received` bytes: the difference is charged (a debt later takers wait
   * out) or given back, at once.
   */
  settleDownload (reserved: number, received: number): void {
    if (this.download == null || reserved === received) {
      return
    }
    this.counters.download.bytes += received - reserved
    if (received > reserved) {
      this.download.reserve(received - reserved)
    } else {
      this.download.refund(reserved - received)
    }
  }

  private async wait (bucket: TokenBucket, bytes: number, counters: BandwidthDirectionStats, signal?: AbortSignal): Promise<void> {
    const ms = bucket.reserve(bytes)
    if (ms <= 0) {
      return
    }
    counters.waits++
    const started = this.now()
    try {
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => {
          clearTimeout(timer)
          bucket.refund(bytes)
          reject(abortReason(signal!, 'waiting for bandwidth'))
        }
        const timer = setTimeout(() => {
          signal?.removeEventListener('abort', onAbort)
          resolve()
        }, Math.ceil(ms))
        signal?.addEventListener('abort', onAbort, { once: true })
      })
    } finally {
      counters.waitMs += this.now() - started
    }
  }
}

/** Bytes a requester reserves for one RetrieveChunk answer before it asks (one default chunk); settled with what came. */
export const EXPECTED_ANSWER_BYTES = CHUNK_SIZE

/** A request, as far as the limiter looks at it. */
interface RequestLike {
  retrieveChunk?: unknown
  storeChunk?: { data?: Uint8Array | null } | null
}

/**
 * The responder's turn to send an answer to `peer`: a wait for upload
 * tokens when the answer carries chunk data and upload is limited, else
 * undefined (nothing to await).
 */
export function answerTurn (limiter: BandwidthLimiter | undefined, peer: string, response: ResponseProps, frameBytes: number, signal: AbortSignal, prefix?: string): Promise<void> | undefined {
  if (limiter?.limitsUpload !== true || response.retrieveChunk?.data == null) {
    return undefined
  }
  return limiter.takeUpload(peer, frameBytes, signal, prefix)
}

/**
 * The responder's turn to work on a StoreChunk a peer pushed (`frameBytes`
 * received): a wait for download tokens when download is limited, else
 * undefined. While it waits the request holds its slots, so a peer pushing
 * faster than the limit fills its stream and is no longer read.
 */
export function storeTurn (limiter: BandwidthLimiter | undefined, request: RequestLike, frameBytes: number, signal: AbortSignal): Promise<void> | undefined {
  if (limiter?.limitsDownload !== true || request.storeChunk == null) {
    return undefined
  }
  return limiter.takeDownload(frameBytes, signal)
}

/**
 * The requester's turn to send `request` to `peer`: StoreChunk data waits
 * for upload tokens, a RetrieveChunk for download tokens for the answer it
 * will bring (`EXPECTED_ANSWER_BYTES`, settled once it came). Resolves to the
 * bytes reserved for the answer; undefined when nothing is limited.
 */
export function requestTurn (limiter: BandwidthLimiter | undefined, peer: string, request: RequestLike, signal: AbortSignal | undefined): Promise<number> | undefined {
  if (limiter == null) {
    return undefined
  }
  if (request.storeChunk != null && limiter.limitsUpload) {
    return limiter.takeUpload(peer, request.storeChunk.data?.byteLength ?? 0, signal).then(() => 0)
  }
  if (request.retrieveChunk != null && limiter.limitsDownload) {
    return limiter.takeDownload(EXPECTED_ANSWER_BYTES, signal).then(() => EXPECTED_ANSWER_BYTES)
  }
  return undefined
}
