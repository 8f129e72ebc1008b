import type { Dds } from '../dds.js'

export type { CatalogEntry, ContentStat, DdsStats, PeerCatalog } from '../catalog.js'

/** What the gateway uses of a DDS node: a `Dds`, or any object with these members. */
export type GatewayNode = Pick<Dds,
'peerId' | 'getMultiaddrs' | 'publish' | 'retrieve' | 'stat' | 'catalog' | 'browse' | 'stats' | 'peers' |
'pins' | 'pin' | 'unpin' | 'gc' | 'connect' | 'replicationStatus' | 'storage'
>
