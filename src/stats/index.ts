/**
 * A node's counters since it started, in one place: blocks served and
 * fetched, retrievals by how they ended, provider records found, peers.
 *
 * @module
 */

import type { AbortOptions, PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import { AbortError, IntegrityError, NotFoundError, TimeoutError } from '../errors.js'
import type { Discovery, Provider, ProvideResult } from '../discovery/index.js'
import type { BandwidthStats, NetworkService } from '../network/index.js'
import type { RetrievalService } from '../retrieval/index.js'
import type { Announcer, ReannounceReport } from '../announce/index.js'

/** Finished retrievals, by how they ended. */
export interface RetrievalOutcomes {
  ok: number
  notFound: number
  integrity: number
  aborted: number
  timeout: number
  error: number
}

/** Counters of a node since it started. */
export interface DdsStats {
  /** Blocks this node answered OK to peers' RetrieveChunk requests, and their bytes. */
  chunksServed: number
  bytesServed: number
  /** Verified chunks received from peers by retrievals (pins and replicas included), and their bytes. */
  chunksFetched: number
  bytesFetched: number
  /** `retrieve` calls that ended, by outcome. */
  retrievals: RetrievalOutcomes
  /** Provider records found by DHT lookups. */
  providersFound: number
  /** Peers connected now. */
  peers: number
  /** The bandwidth limits in force (bytes per second) and the chunk traffic that went through them. */
  bandwidth: BandwidthStats
  /**
   * Announcements queued or running in the background, and the last part of
   * the daily re-announcement cycle (one 24th of the DHT key space an hour)
   * once one has run.
   */
  announcements: { pending: number, lastReannounce?: ReannounceReport }
}

/** The parts that keep counters of their own. */
export interface StatsComponents {
  network: Pick<NetworkService, 'served' | 'bandwidth'>
  retrieval: Pick<RetrievalService, 'fetched'>
  announcer: Pick<Announcer, 'pending' | 'lastReannounce'>
  peers(): PeerId[]
}

/**
 * Counts what no part counts itself (retrieval outcomes, provider records
 * found) and gathers the counters the parts keep into one `DdsStats`.
 */
export class NodeStats {
  private readonly outcomes: RetrievalOutcomes = { ok: 0, notFound: 0, integrity: 0, aborted: 0, timeout: 0, error: 0 }
  private providersFound = 0

  /** The discovery, counting the provider records its lookups find. */
  countProviders (discovery: Discovery): Discovery {
    const found = (): void => { this.providersFound++ }
    return {
      provide: async (cid: CID, options?: AbortOptions): Promise<ProvideResult> => discovery.provide(cid, options),
      findProviders: async function * (cid: CID, count: number, options?: AbortOptions): AsyncGenerator<Provider> {
        for await (const provider of discovery.findProviders(cid, count, options)) {
          found()
          yield provider
        }
      },
      ...(discovery.provideMany != null ? { provideMany: discovery.provideMany.bind(discovery) } : {}),
      ...(discovery.reannouncePart != null ? { reannouncePart: discovery.reannouncePart.bind(discovery) } : {}),
      ...(discovery.waitForPeers != null ? { waitForPeers: discovery.waitForPeers.bind(discovery) } : {})
    }
  }

  /**
   * Wraps a retrieval, counting how it ends: the outcome of its error, or
   * `ok`; a consumer that stops reading early counts as an abort.
   */
  countRetrieval (source: () => AsyncGenerator<Uint8Array>): AsyncIterable<Uint8Array> {
    const outcomes = this.outcomes
    return {
      async * [Symbol.asyncIterator] () {
        let outcome: keyof RetrievalOutcomes = 'aborted'
        try {
          yield * source()
          outcome = 'ok'
        } catch (err) {
          outcome = outcomeOf(err)
          throw err
        } finally {
          outcomes[outcome]++
        }
      }
    }
  }

  /** These counts with those the parts keep. */
  stats ({ network, retrieval, announcer, peers }: StatsComponents): DdsStats {
    return {
      chunksServed: network.served.blocks,
      bytesServed: network.served.bytes,
      chunksFetched: retrieval.fetched.chunks,
      bytesFetched: retrieval.fetched.bytes,
      retrievals: { ...this.outcomes },
      providersFound: this.providersFound,
      peers: peers().length,
      bandwidth: network.bandwidth,
      announcements: {
        pending: announcer.pending,
        ...(announcer.lastReannounce != null ? { lastReannounce: { ...announcer.lastReannounce } } : {})
      }
    }
  }
}

function outcomeOf (err: unknown): keyof RetrievalOutcomes {
  if (err instanceof NotFoundError) {
    return 'notFound'
  }
  if (err instanceof IntegrityError) {
    return 'integrity'
  }
  if (err instanceof AbortError) {
    return 'aborted'
  }
  if (err instanceof TimeoutError) {
    return 'timeout'
  }
  return 'error'
}
