import type { Multiaddr } from '@multiformats/multiaddr'
import { DEFAULT_BUSY_RETRY_AFTER_MS, NEW_PEER_RESERVE_FRACTION } from './constants.js'

/** The limits slot admission applies (a subset of the responder's limits). */
export interface SlotLimits {
  maxRequestsPerPeer: number
  maxRequestsPerPrefix: number
  maxConcurrentRequests: number
  stallGraceMs: number
}

/** One inbound stream as slot admission sees it. */
export interface ServedStream {
  readonly peerKey: string
  readonly prefix: string
  /** Slots held by requests of this stream. */
  readonly slots: number
  /** Since when answers have waited with none leaving: the later of the oldest waiting answer's start and the last answer that left (undefined: none waits). */
  readonly waitingSince: number | undefined
  /** Resets the stream; its slots are released as its answers fail. */
  evict(reason: string): void
}

/** The request slots of one node, shared by every inbound stream. */
export interface SlotTable {
  /** Requests being worked on or answered over all streams. */
  active: number
  /** The same, per peer (string form of the peer id); a peer with none has no entry. */
  readonly perPeer: Map<string, number>
  /** The same, per address prefix (see {@link addressPrefix}). */
  readonly perPrefix: Map<string, number>
  /** Every stream being served, for eviction. */
  readonly served: Set<ServedStream>
}

/** What admission decided for one request. */
export type Admission =
  | { admitted: true }
  | { admitted: false, reason: string, retryAfterMs: number }

/**
 * The budget key of a connection's remote address: its IPv4 /24 or IPv6 /48
 * (an IPv4-mapped IPv6 address counts as IPv4), so identities made up on one
 * machine or network share one budget. A relayed connection, or an address
 * without an IP, is keyed by the peer itself: the relay's address says
 * nothing about who is behind it.
 */
export function addressPrefix (addr: Multiaddr | undefined, peerKey: string): string {
  let components: Array<{ name: string, value?: string }> = []
  try {
    components = addr?.getComponents() ?? []
  } catch {}
  if (components.length === 0 || components.some(c => c.name === 'p2p-circuit')) {
    return `peer:${peerKey}`
  }
  const first = components[0]!
  if (first.name === 'ip4' && first.value != null) {
    return `ip4:${first.value.split('.').slice(0, 3).join('.')}`
  }
  if (first.name === 'ip6' && first.value != null) {
    const groups = expandIp6(first.value)
    if (groups != null) {
      return groups.v4 != null ? `ip4:${groups.v4.split('.').slice(0, 3).join('.')}` : `ip6:${groups.hex.slice(0, 3).join(':')}`
    }
  }
  return `peer:${peerKey}`
}

/** The eight groups of an IPv6 address (and the IPv4 address it maps, if any), or undefined if it does not parse. */
function expandIp6 (text: string): { hex: string[], v4?: string } | undefined {
  const lower = text.toLowerCase().split('%')[0]!
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower)
  if (mapped != null) {
    return { hex: [], v4: mapped[1] }
  }
  const halves = lower.split('::')
  if (halves.length > 2) {
    return undefined
  }
  const head = halves[0] === '' ? [] : halves[0]!.split(':')
  const tail = halves.length === 2 && halves[1] !== '' ? halves[1]!.split(':') : []
  const fill = halves.length === 2 ? 8 - head.length - tail.length : 0
  const hex = [...head, ...Array<string>(Math.max(fill, 0)).fill('0'), ...tail].map(g => g.replace(/^0+(?=.)/, ''))
  if (hex.length !== 8) {
    return undefined
  }
  if (hex.slice(0, 5).every(g => g === '0') && hex[5] === 'ffff') {
    const [high, low] = [parseInt(hex[6]!, 16), parseInt(hex[7]!, 16)]
    return { hex, v4: `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}` }
  }
  return { hex }
}

/**
 * The slots `stream`'s peer may hold of what is full: the prefix's budget
 * split evenly between the peers holding slots in it, the node's between
 * all peers holding slots (the smaller of the two when both are full). A
 * greedy peer that filled a budget first keeps no more than a later one may
 * take.
 */
function fairShare (table: SlotTable, stream: ServedStream, prefixFull: boolean, nodeFull: boolean, limits: SlotLimits): number {
  const inPrefix = new Set<string>([stream.peerKey])
  if (prefixFull) {
    for (const other of table.served) {
      if (other.slots > 0 && other.prefix === stream.prefix) {
        inPrefix.add(other.peerKey)
      }
    }
  }
  const prefixShare = prefixFull ? Math.floor(limits.maxRequestsPerPrefix / inPrefix.size) : Infinity
  const peers = table.perPeer.size + (table.perPeer.has(stream.peerKey) ? 0 : 1)
  const nodeShare = nodeFull ? Math.floor(limits.maxConcurrentRequests / peers) : Infinity
  return Math.min(prefixShare, nodeShare)
}

/**
 * Decides whether a request of `stream` gets a slot, in this order:
 *
 * - a peer at `maxRequestsPerPeer` gets BUSY;
 * - within the node-wide and its prefix's limits, it gets a slot;
 * - a peer with no slot in use, or holding less than its fair share of the
 *   full budget (the prefix's or the node's, split evenly between the peers
 *   holding slots in it), gets one past both limits while fewer than
 *   `NEW_PEER_RESERVE_FRACTION` of `maxConcurrentRequests` extra slots are in
 *   use: a new peer is served whatever others hold, and peers that filled a
 *   budget first get BUSY as their requests finish until the later ones
 *   have their share;
 * - otherwise the stream stalled longest (an answer has waited at least
 *   `stallGraceMs` for its peer to read it) whose peer holds more slots than
 *   this one (within the same prefix when the prefix is what is full) is
 *   reset, and the request gets a slot: a peer that does not read its answers
 *   gives up its slots as soon as another needs them;
 * - failing that, BUSY, with the time until a stream becomes stalled enough
 *   to evict as the retry-after when there is one.
 */
export function admit (table: SlotTable, stream: ServedStream, limits: SlotLimits, now = Date.now()): Admission {
  const mine = table.perPeer.get(stream.peerKey) ?? 0
  if (mine >= limits.maxRequestsPerPeer) {
    return { admitted: false, reason: `this node is answering ${limits.maxRequestsPerPeer} requests of yours already, retry later`, retryAfterMs: DEFAULT_BUSY_RETRY_AFTER_MS }
  }
  const prefixFull = (table.perPrefix.get(stream.prefix) ?? 0) >= limits.maxRequestsPerPrefix
  const nodeFull = table.active >= limits.maxConcurrentRequests
  if (!prefixFull && !nodeFull) {
    return { admitted: true }
  }
  const reserve = Math.max(1, Math.floor(limits.maxConcurrentRequests * NEW_PEER_RESERVE_FRACTION))
  if (table.active < limits.maxConcurrentRequests + reserve && (mine === 0 || mine < fairShare(table, stream, prefixFull, nodeFull, limits))) {
    return { admitted: true }
  }
  let victim: ServedStream | undefined
  let soonest = Infinity
  for (const other of table.served) {
    if (other.slots === 0 || other.waitingSince == null || (table.perPeer.get(other.peerKey) ?? 0) <= mine) {
      continue
    }
    if (prefixFull && !nodeFull && other.prefix !== stream.prefix) {
      continue
    }
    if (now - other.waitingSince >= limits.stallGraceMs) {
      if (victim == null || other.waitingSince < victim.waitingSince!) {
        victim = other
      }
    } else {
      soonest = Math.min(soonest, other.waitingSince + limits.stallGraceMs - now)
    }
  }
  if (victim != null) {
    victim.evict(`peer ${victim.peerKey} did not read its answers while other peers waited for a request slot`)
    return { admitted: true }
  }
  const retryAfterMs = Number.isFinite(soonest) ? Math.max(1, Math.ceil(soonest)) : DEFAULT_BUSY_RETRY_AFTER_MS
  return {
    admitted: false,
    reason: prefixFull && !nodeFull
      ? 'this node is answering as many requests as it allows for your address range, retry later'
      : 'this node is at its request limit, retry later',
    retryAfterMs
  }
}
