/**
 * @packageDocumentation
 *
 * DDS stores content on a libp2p network by its hash. Content is cut into
 * 256 KiB chunks, each named by a CIDv1 (raw, sha2-256); a protobuf manifest
 * lists them, and the manifest's CID names the whole. Blocks are kept in
 * LevelDB, memory or any js-stores blockstore (with a datastore for the
 * node's pins and identity), announced on a private Kademlia DHT, fetched from
 * whichever peers hold them and verified before any byte is stored or handed
 * out.
 *
 * ```ts
 * import { Dds } from '@digisocialblock/dds'
 *
 * const a = await Dds.create({ storage: './a-data' })
 * const b = await Dds.create({ bootstrap: a.getMultiaddrs() })
 * const cid = await a.publish(new TextEncoder().encode('hello'))
 * const bytes = await b.retrieveBytes(cid)
 * ```
 */

import { assertSupportedRuntime } from './runtime.js'

assertSupportedRuntime()

export { Dds } from './dds.js'
export type { DdsInit, AnnounceStrategy, PublishOptions, PublishProgressEvents, RetrieveOptions, CollectionInput, CollectionSource, CollectionEntryInfo } from './dds.js'
export type { CarSource, ExportCarOptions, ExportCarProgressEvents, ImportCarOptions, ImportCarProgressEvents } from './car/index.js'
export { CAR_MEDIA_TYPE } from './car/index.js'
export type { RetrieveProgressEvents, RetrievalInit, SessionStats } from './retrieval/index.js'
export type { ContentStat, StatOptions, CatalogEntry, CatalogPage, PeerCatalog, CatalogOptions, CatalogPageOptions, BrowseOptions } from './catalog/index.js'
export type { DdsStats, RetrievalOutcomes } from './stats/index.js'
export type { ConnectedPeer } from './join/index.js'
export type { NatInit, RelayInit } from './network/index.js'
export type { Pin, PinKind, PinInfo, PinOptions, PinProgress, PinProgressEvents, RepoStat, PeerReplicaUsage, GcResult, ReplicaPolicy, ReplicationInit, ReplicationStatus, ReplicationManager } from './replication/index.js'
export {
  DdsError, InvalidInputError, NotFoundError, IntegrityError, TimeoutError, AbortError, RejectedError, ProtocolError, RemoteError, BusyError, NoDirectPathError,
  StorageError, NotStartedError, UnsupportedRuntimeError
} from './errors.js'

// content addressing: CIDs, chunks and manifests, for tools that check or build content without a node
export { parseCid, cidToString, cidForBlock, blockMatchesCid, CID } from './cid.js'
export type { CIDLike } from './cid.js'
export { CHUNK_SIZE, chunkContent, ContentHasher } from './chunker/index.js'
export type { Chunk, ChunkContentOptions, ContentInput } from './chunker/index.js'
export {
  MAX_MANIFEST_BLOCK_SIZE, MAX_CONTENT_SIZE, MAX_CHUNKS_PER_MANIFEST, DEFAULT_CHUNKS_PER_BLOCK, ManifestBuilder, chunkCidsOf, encodeManifestNode,
  decodeManifestNode, chunkCount, chunkSpan, createManifest, encodeManifest, decodeManifest, manifestBlock, verifyManifestBlock,
  checkDescription, MAX_NAME_BYTES, MAX_MEDIA_TYPE_LENGTH, MAX_METADATA_ENTRIES, MAX_METADATA_KEY_LENGTH, MAX_METADATA_VALUE_BYTES, MAX_DESCRIPTION_BYTES,
  COLLECTION_MEDIA_TYPE, MAX_COLLECTION_ENTRIES, MAX_COLLECTION_BYTES, MAX_PATH_BYTES, encodeCollection, decodeCollection, checkPath
} from './manifest/index.js'
export type { Manifest, ManifestInit, ManifestBlock, DecodeManifestOptions, ChunkSpan, ContentDescription, CheckedDescription, CollectionEntry } from './manifest/index.js'

// the parts a caller may bring or build: a store, a libp2p node with the DDS DHT, a discovery
export { createStorage, levelStorage, memoryStorage, blockstoreStorage } from './storage/index.js'
export type { Block, StorageProvider, StorageStats, LevelStorageInit, LevelStorageProvider, LevelSublevel, RecordStore, BlockstoreStorageInit, Blockstore, Datastore } from './storage/index.js'
export { DDS_PROTOCOL, createDdsLibp2p } from './network/index.js'
export { Status } from './pb/index.js'
export type { NetworkService, NetworkInit, StorePolicy, CatalogPolicy, CatalogItem, CatalogRequestOptions, RequestOptions, DdsLibp2p, DdsLibp2pInit, DdsLibp2pServices, PeerScores, PeerStanding } from './network/index.js'
export { kadDiscovery, ddsDht } from './discovery/index.js'
export { streamLogger, componentLog, LOG_LEVELS, LOG_FORMATS } from './log/index.js'
export type { DdsLogger, LogFields, LogFormat, LogLevel, StreamLoggerInit } from './log/index.js'
export { DDS_KAD_PROTOCOL } from './discovery/constants.js'
export type { Discovery, Provider, ProvideResult, ProvideManyOptions, ProvideManyResult, ReannounceResult, KadDiscoveryInit, KadDiscoveryComponents, DdsDhtInit } from './discovery/index.js'
