import type { CID } from 'multiformats/cid'
import { decodeManifest, MAX_MANIFEST_BLOCK_SIZE } from '../manifest/index.js'
import type { StorageProvider } from '../storage/index.js'
import type { ReplicaPolicy } from './accept.js'
import type { Pin, PinIndex } from './pins.js'

/** What the last replication check of a local pin found. */
export interface PinReplication {
  /** The replication factor. */
  target: number
  /** Live holders found (this node included). */
  live: string[]
  /** When the check ran (ms since the epoch). */
  lastCheck: number
  /** True while copies are being requested. */
  repairing: boolean
  /** The last refusal or failure while requesting a copy (`<peer id>: <reason>`). */
  lastError?: string
}

/** A pin as `Dds.pins()` lists it: the pin record and the content's recorded name. */
export interface PinInfo extends Pin {
  /** The name recorded in the content's manifest, when it has one and the manifest is known. */
  name?: string
  /** Local pins that were checked: what the last replication check found. */
  replication?: PinReplication
}

/** What one peer's replicas use of the quota. */
export interface PeerReplicaUsage {
  /** The peer the replicas are held for. */
  peer: string
  /** Replicas held (or being fetched) for it. */
  replicas: number
  /** Their bytes, reservations of accepted fetches included. */
  bytes: number
}

/** What `Dds.repoStat()` tells: the store, the pins, and the replica quota. */
export interface RepoStat {
  /** Every block in the store, pinned or not. */
  store: { blocks: number, bytes: number }
  /** This node's own pins (published or pinned here). */
  pinned: { count: number, bytes: number, fetching: number }
  /** Replicas held for other peers. */
  replicas: { count: number, bytes: number, fetching: number }
  /** The replica quota and how much of it is used. */
  quota: {
    /** Whose content this node holds copies of. */
    accept: ReplicaPolicy
    /** Bytes of replicas held for others at most. */
    bytes: number
    /** Bytes used: replicas held or being fetched, and accepted fetches not started yet. */
    used: number
    /** Share of the quota one peer may fill (0 to 1). */
    perPeerShare: number
    /** The same share in bytes. */
    perPeerBytes: number
  }
  /** Use of the quota per peer, largest first. */
  peers: PeerReplicaUsage[]
}

/** The replica limits `repoStat` reports. */
export interface ReplicaLimits {
  accept: ReplicaPolicy
  quotaBytes: number
  perPeerShare: number
}

/**
 * The name recorded in the manifest of `cid`, read from the store: undefined
 * when the manifest is not stored (a fetch still running stores it last) or
 * has no name.
 */
async function storedName (storage: StorageProvider, cid: CID): Promise<string | undefined> {
  const bytes = await storage.get(cid).catch(() => undefined)
  if (bytes == null || bytes.byteLength > MAX_MANIFEST_BLOCK_SIZE) {
    return undefined
  }
  try {
    return decodeManifest(bytes).name
  } catch {
    return undefined
  }
}

/** Every pin with the content's name (from the pin record, else from the stored manifest). */
export async function describePins (storage: StorageProvider, pins: PinIndex, status: (cid: CID) => PinReplication | undefined): Promise<PinInfo[]> {
  const all: PinInfo[] = []
  for await (const { manifest, ...pin } of pins.list()) {
    const name = pin.name ?? await storedName(storage, manifest)
    const checked = pin.kind === 'local' ? status(manifest) : undefined
    const replication = checked != null && checked.lastCheck > 0
      ? { target: checked.target, live: checked.live, lastCheck: checked.lastCheck, repairing: checked.repairing, ...(checked.lastError != null ? { lastError: checked.lastError } : {}) }
      : undefined
    all.push({ ...pin, ...(name != null ? { name } : {}), ...(replication != null ? { replication } : {}) })
  }
  return all
}

/**
 * The store's totals, the pins by kind, and the quota's use: `usage` is the
 * bytes admission counts against the quota, in all and per peer.
 */
export async function repoStat (storage: StorageProvider, pins: PinIndex, limits: ReplicaLimits, usage: { total: number, byPeer: Map<string, number> }): Promise<RepoStat> {
  const pinned = { count: 0, bytes: 0, fetching: 0 }
  const replicas = { count: 0, bytes: 0, fetching: 0 }
  const counts = new Map<string, number>()
  for await (const pin of pins.list()) {
    const kind = pin.kind === 'replica' ? replicas : pinned
    kind.count++
    kind.bytes += pin.size
    if (pin.state === 'fetching') {
      kind.fetching++
    }
    if (pin.kind === 'replica' && pin.for != null) {
      counts.set(pin.for, (counts.get(pin.for) ?? 0) + 1)
    }
  }
  const peers = [...usage.byPeer].map(([peer, bytes]) => ({ peer, replicas: counts.get(peer) ?? 0, bytes }))
    .sort((a, b) => b.bytes - a.bytes || a.peer.localeCompare(b.peer))
  return {
    store: await storage.stats(),
    pinned,
    replicas,
    quota: {
      accept: limits.accept,
      bytes: limits.quotaBytes,
      used: usage.total,
      perPeerShare: limits.perPeerShare,
      perPeerBytes: Math.floor(limits.quotaBytes * limits.perPeerShare)
    },
    peers
  }
}
