import type { AbortOptions } from '@libp2p/interface'
import type { GcResult, Pin, ReplicationStatus } from '../replication/index.js'
import type { StorageStats } from '../storage/index.js'

/** What `stat` tells about content (see `Dds.stat`). */
export interface ContentStat {
  cid: string
  size: number
  chunks: number
  name?: string
  mediaType?: string
  metadata: Record<string, string>
  local: boolean
  pin?: 'local' | 'replica'
}

/** One piece of content a node shares (see `Dds.catalog`). */
export interface CatalogEntry {
  cid: string
  size: number
  name?: string
  mediaType?: string
  metadata: Record<string, string>
}

/** The catalog of one peer (see `Dds.browse`). */
export interface PeerCatalog {
  peer: string
  entries: CatalogEntry[]
  error?: Error
}

/** Counters of a node (see `Dds.stats`). */
export interface DdsStats {
  chunksServed: number
  bytesServed: number
  chunksFetched: number
  bytesFetched: number
  retrievals: { ok: number, notFound: number, integrity: number, aborted: number, timeout: number, error: number }
  providersFound: number
  peers: number
}

/** Options of a publish made through the gateway. */
export interface GatewayPublishOptions extends AbortOptions {
  name?: string
  mediaType?: string
  metadata?: Record<string, string>
  onProgress?(evt: { type: string, detail?: unknown }): void
}

/**
 * What the gateway uses of a DDS node. A `Dds` has all of it; any object of
 * this shape can be served.
 */
export interface GatewayNode {
  readonly peerId: string
  getMultiaddrs(): string[]
  publish(input: AsyncIterable<Uint8Array>, options?: GatewayPublishOptions): Promise<string>
  retrieve(cid: string, options?: AbortOptions & { offset?: number, length?: number }): AsyncIterable<Uint8Array>
  stat(cid: string, options?: AbortOptions): Promise<ContentStat>
  catalog(peer?: string, options?: AbortOptions & { limit?: number }): Promise<CatalogEntry[]>
  browse(options?: AbortOptions & { limit?: number }): Promise<PeerCatalog[]>
  stats(): DdsStats
  peers(): Array<{ peer: string, addrs: string[] }>
  pins(): Promise<Pin[]>
  pin(cid: string, options?: AbortOptions): Promise<Pin>
  unpin(cid: string): Promise<boolean>
  gc(options?: AbortOptions): Promise<GcResult>
  connect(address: string, options?: AbortOptions): Promise<void>
  replicationStatus(cid: string): Promise<ReplicationStatus | undefined>
  readonly storage: { stats(): Promise<StorageStats> }
}
