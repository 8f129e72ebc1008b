import type { Dds } from '../dds.js'

export type { CatalogEntry, ContentStat, PeerCatalog } from '../catalog/index.js'
export type { DdsStats } from '../stats/index.js'

/** What the gateway uses of a DDS node: a `Dds`, or any object with these members. */
export type GatewayNode = Pick<Dds,
'peerId' | 'getMultiaddrs' | 'publish' | 'retrieve' | 'stat' | 'catalog' | 'browse' | 'stats' | 'peers' |
'pins' | 'replicas' | 'repoStat' | 'dropReplica' | 'pin' | 'unpin' | 'gc' | 'connect' | 'replicationStatus' | 'storage' | 'libp2p' |
'exportCar' | 'importCar' | 'list'
>
