/**
 * Announcing: what a node tells the DHT it holds. The announcer owns the
 * queue of announcements that run in the background, remembers content
 * whose announcement reached no DHT peer and announces it again once a peer
 * connects.
 *
 * @module
 */

import type { CID } from 'multiformats/cid'
import type { AbortOptions, ComponentLogger } from '@libp2p/interface'
import type { Discovery, ProvideResult } from '../discovery/index.js'
import type { DdsLibp2p } from '../network/index.js'
import type { StorageProvider } from '../storage/index.js'
import type { Manifest } from '../manifest/index.js'
import { InvalidInputError } from '../errors.js'
import { DdsAnnouncer } from './announcer.js'
import { DEFAULT_ANNOUNCE, REANNOUNCE_PART_MS } from './constants.js'
import { timeoutOption } from '../options.js'

export { DEFAULT_ANNOUNCE } from './constants.js'

/** Which blocks `publish` announces on the DHT. */
export type AnnounceStrategy = 'all' | 'manifest' | 'none'

/** What the announcer needs from the node. */
export interface AnnouncerComponents {
  discovery: Discovery
  /** Reads back the blocks of held content to announce them. */
  storage: Pick<StorageProvider, 'get'>
  /** Tells of new connections (a DHT peer to announce to) and counts them. */
  libp2p: Pick<DdsLibp2p, 'addEventListener' | 'removeEventListener' | 'getConnections'>
  /** Where the announcer logs (as `dds:announce`). @default nothing is logged */
  logger?: ComponentLogger
}

/** Options of the announcer. */
export interface AnnouncerInit {
  /** What to announce of content: only manifests, every block, or nothing. @default 'manifest' */
  strategy?: AnnounceStrategy
  /**
   * Milliseconds between two parts of the re-announcement cycle (see
   * `Discovery.reannouncePart`): each part of the key space is announced
   * again every `REANNOUNCE_PARTS` of these. @default 3600000 (one hour; a day per cycle)
   */
  reannouncePartMs?: number
}

/** Announces content on the DHT, now and in the background. */
export interface Announcer {
  readonly strategy: AnnounceStrategy
  /** Announcements queued or running in the background. */
  readonly pending: number
  /** Starts listening for new connections. */
  start(): void
  /** Drops what is queued and stops listening. */
  stop(): void
  /**
   * Announces just-published content: the manifest now (resolving with how
   * many DHT peers took the record, or `undefined` with strategy `'none'`),
   * in the background a collection's entries (strategy `'manifest'`) or
   * every other block (`'all'`).
   */
  announcePublished(cid: CID, manifest: Manifest, options?: AbortOptions): Promise<ProvideResult | undefined>
  /** Announces content this node holds (pinned or replicated), all in the background. */
  announceHeld(cid: CID): void
  /** Announces one block a peer stored here (with strategy `'manifest'`, only if it is a manifest). */
  announceBlock(cid: CID): void
  /** Resolves when every queued announcement has finished, including those made again because a peer connected. */
  onIdle(): Promise<void>
  /** The last part of the re-announcement cycle that ran, if one has. */
  readonly lastReannounce?: ReannounceReport
}

/** What one part of the re-announcement cycle did. */
export interface ReannounceReport {
  part: number
  parts: number
  /** This node's records in that part, and how many of them reached a DHT peer. */
  records: number
  reached: number
  /** When it ended (ms since the epoch) and how long it took. */
  at: number
  ms: number
  /** Why it failed, if it did. */
  error?: string
  /** Why records did not reach some peers (the first few), when that happened. */
  failures?: string[]
  /** How many times sending to a peer failed in all, when it happened. */
  failedPeers?: number
}

/** Creates the announcer. */
export function announcer (init: AnnouncerInit = {}): (components: AnnouncerComponents) => Announcer {
  const strategy = init.strategy ?? DEFAULT_ANNOUNCE
  if (!['all', 'manifest', 'none'].includes(strategy)) {
    throw new InvalidInputError("announce must be 'all', 'manifest' or 'none'")
  }
  const partMs = timeoutOption('reannouncePartMs', init.reannouncePartMs, REANNOUNCE_PART_MS)
  return (components) => new DdsAnnouncer(components, strategy, partMs)
}
