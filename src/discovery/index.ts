/**
 * Discovery: announcing which blocks this node holds and finding the peers
 * that hold a block, on a private Kademlia DHT.
 *
 * @module
 */

import type { CID } from 'multiformats/cid'
import type { AbortOptions, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** A peer that announced a block, with the addresses it announced. */
export interface Provider {
  peerId: PeerId
  multiaddrs: Multiaddr[]
}

/** The outcome of one announcement. */
export interface ProvideResult {
  /** How many DHT peers accepted the provider record (ADD_PROVIDER messages sent). */
  peers: number
}

/** Options of `Discovery.provideMany`. */
export interface ProvideManyOptions extends AbortOptions {
  /** Called as the records go out: how many of the CIDs are done. */
  onProgress?(progress: { done: number, total: number }): void
}

/** The outcome of `Discovery.provideMany`. */
export interface ProvideManyResult {
  /** For each CID given, in order: how many DHT peers took its record. */
  peers: number[]
  /** Why records did not reach some peers (the first few), when that happened. */
  failures?: string[]
  /** How many times sending to a peer failed in all, when it happened. */
  failedPeers?: number
}

/** The outcome of `Discovery.reannouncePart`. */
export interface ReannounceResult {
  /** This node's records in the part. */
  records: number
  /** Of those, how many at least one DHT peer took. */
  reached: number
  /** Why records did not reach some peers (the first few), when that happened. */
  failures?: string[]
  /** How many times sending to a peer failed in all, when it happened. */
  failedPeers?: number
}

/** How DDS announces and finds blocks. A caller may pass its own to `Dds.create`. */
export interface Discovery {
  /**
   * Announces that this node holds `cid`. Resolves when the record has been
   * offered to the closest peers the DHT knows; `peers` says how many took it
   * (0 when this node knows no DHT peer yet).
   */
  provide(cid: CID, options?: AbortOptions): Promise<ProvideResult>

  /**
   * Yields up to `count` peers (other than this node) that announced `cid`,
   * as they are found. Ends when `count` are found, the search is exhausted,
   * or its deadline passes (finding none is not an error here); throws
   * `AbortError` when the caller's signal aborts, and `InvalidInputError`
   * (at the call) when `count` is not a positive integer.
   */
  findProviders(cid: CID, count: number, options?: AbortOptions): AsyncIterable<Provider>

  /**
   * Announces many blocks at once (a publish's chunks): optional, and for a
   * DHT much cheaper per block than `provide`. Resolves with, for each CID in
   * order, how many DHT peers took its record (all 0 when this node knows no
   * DHT peer yet). A discovery without it is given the blocks one by one.
   */
  provideMany?(cids: CID[], options?: ProvideManyOptions): Promise<ProvideManyResult>

  /**
   * Announces again this node's records whose DHT key lies in part `part` of
   * `parts` equal parts of the key space (one sweep): calling it for each part
   * in turn spreads the re-announcement of everything over the cycle, each
   * part's records going to the same DHT peers. Optional: without it the
   * DHT's own re-announcement runs.
   */
  reannouncePart?(part: number, parts: number, options?: AbortOptions): Promise<ReannounceResult>

  /**
   * Resolves true once the discovery knows at least one peer to announce to
   * (for the DHT: a non-empty routing table), false if the signal aborts
   * first. Optional: a discovery without it is taken to be always ready.
   */
  waitForPeers?(options?: AbortOptions): Promise<boolean>
}

export { kadDiscovery, type KadDiscoveryInit, type KadDiscoveryComponents } from './kad.js'
export { ddsDht, type DdsDhtInit } from './dht.js'
