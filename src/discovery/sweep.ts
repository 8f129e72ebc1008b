/**
 * Announcing many blocks at once: a sweep of the DHT's key space.
 *
 * One `provide` walks the DHT to the peers closest to its key and opens a
 * stream to each of them for one record: ~140 ms and ~30 streams a record.
 * The sweep sorts the records by Kademlia key instead. One walk finds the
 * peers closest to the first key; every following key that shares the prefix
 * those peers share with it has its closest peers among them (that part of the
 * key space holds them all), so it goes to the same peers without another
 * walk. Each peer then gets its records over one stream, in batches, each
 * batch acknowledged by a PING the peer answers after handling what came
 * before (the DHT handles a stream's messages in order).
 *
 * @module
 */

import { createHash } from 'node:crypto'
import { lpStream } from '@libp2p/utils'
import type { CID } from 'multiformats/cid'
import type { AbortOptions, PeerId, Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { InvalidInputError, ProtocolError, abortReason } from '../errors.js'
import { SWEEP_ACK_TIMEOUT_MS, SWEEP_BATCH, SWEEP_PEER_CONCURRENCY, SWEEP_REPLICAS, SWEEP_SLICE } from './constants.js'

/** The DHT calls a sweep makes: the walk to the closest peers. */
export interface SweepDht {
  getClosestPeers(key: Uint8Array, options?: AbortOptions): AsyncIterable<SweepQueryEvent>
}

/** The parts of kad-dht's query events a sweep reads. */
export type SweepQueryEvent =
  | { name: 'FINAL_PEER', peer: { id: PeerId } }
  | { name: 'PEER_RESPONSE', from: PeerId }
  | { name: string }

/** What a sweep needs from the node. */
export interface SweepComponents {
  dht: SweepDht
  peerId: PeerId
  /** Opens the DHT protocol's streams and says which addresses go in the records. */
  libp2p: {
    dialProtocol(peer: PeerId, protocols: string, options?: AbortOptions): Promise<Stream>
    getMultiaddrs(): Multiaddr[]
  }
  /** The DHT's protocol id. */
  protocol: string
}

/** Progress of a sweep, after each slice of records has been sent. */
export interface SweepProgress {
  /** Records handled so far (sent, or given up on). */
  done: number
  total: number
  /** Walks to the closest peers so far. */
  lookups: number
}

export interface SweepOptions extends AbortOptions {
  onProgress?(progress: SweepProgress): void
  /** Peers each record goes to. @default 20 (kad-dht's K) */
  replicas?: number
  /** The Kademlia keys of the CIDs, in the same order, when the caller has them already (kadKey). */
  keys?: Uint8Array[]
  /** Peers sent to at once, one stream each. @default 8 (SWEEP_PEER_CONCURRENCY) */
  peerConcurrency?: number
}

/** The outcome of a sweep. */
export interface SweepResult {
  /** For each CID given, in order: how many DHT peers acknowledged its record. */
  peers: number[]
  /** Walks to the closest peers the sweep made. */
  lookups: number
  /** Records acknowledged, summed over peers. */
  messages: number
  /** Why sending to a peer failed (the first few), for the log. */
  failures: string[]
  /** Peers that records could not be sent to, all of them (a peer counts once per slice it failed). */
  failedPeers: number
}

/** Failures a sweep keeps to report. */
const MAX_FAILURES_KEPT = 8

// kad-dht's Message: type = 1 (varint), key = 2 (bytes), providerPeers = 9 (Peer: id = 1, addrs = 2)
const ADD_PROVIDER = 2
const PING = 5

/** Sends provider records for `cids` to the DHT peers closest to each, sweeping the key space in order. */
export async function sweepProvide (components: SweepComponents, cids: CID[], options: SweepOptions = {}): Promise<SweepResult> {
  const keys = options.keys
  if (keys != null && keys.length !== cids.length) {
    throw new InvalidInputError(`keys must give one Kademlia key per CID, got ${keys.length} for ${cids.length}`)
  }
  const records = cids.map((cid, index) => ({ index, mh: cid.multihash.bytes, key: keys?.[index] ?? kadKey(cid.multihash.bytes) }))
  records.sort((a, b) => compare(a.key, b.key))
  const peers = new Array<number>(cids.length).fill(0)
  const provider = encodeProvider(components.peerId, components.libp2p.getMultiaddrs())
  const result: SweepResult = { peers, lookups: 0, messages: 0, failures: [], failedPeers: 0 }
  const replicas = options.replicas ?? SWEEP_REPLICAS
  let i = 0
  while (i < records.length) {
    throwIfStopped(options.signal)
    const first = records[i]!
    const candidates = await closestPeers(components, first.mh, options)
    result.lookups++
    if (candidates.length === 0) {
      // nobody to send to: the rest stays at 0 peers (the caller announces again later)
      options.onProgress?.({ done: records.length, total: records.length, lookups: result.lookups })
      break
    }
    // the keys sharing the prefix that the closest peers share with the first key have their closest peers among these
    candidates.sort((a, b) => closer(a.key, b.key, first.key))
    const reach = candidates[Math.min(replicas, candidates.length) - 1]!
    const shared = candidates.length <= replicas ? 0 : sharedPrefixBits(reach.key, first.key)
    let end = i + 1
    while (end < records.length && sharedPrefixBits(records[end]!.key, first.key) >= shared) {
      end++
    }
    for (let start = i; start < end; start += SWEEP_SLICE) {
      const slice = records.slice(start, Math.min(start + SWEEP_SLICE, end))
      result.messages += await sendSlice(components, slice, candidates, replicas, provider, peers, result, options)
      options.onProgress?.({ done: start + slice.length, total: records.length, lookups: result.lookups })
    }
    i = end
  }
  return result
}

interface Candidate { id: PeerId, key: Uint8Array }
interface KeyedRecord { index: number, mh: Uint8Array, key: Uint8Array }

/** The peers that answered a walk toward `key` (the closest it found and those it passed). */
async function closestPeers (components: SweepComponents, key: Uint8Array, options: AbortOptions): Promise<Candidate[]> {
  const found = new Map<string, PeerId>()
  const add = (id: PeerId): void => {
    if (!id.equals(components.peerId)) {
      found.set(id.toString(), id)
    }
  }
  for await (const event of components.dht.getClosestPeers(key, { signal: deadline(options.signal) })) {
    if (event.name === 'FINAL_PEER' && 'peer' in event) {
      add(event.peer.id)
    } else if (event.name === 'PEER_RESPONSE' && 'from' in event) {
      add(event.from)
    }
  }
  return [...found.values()].map(id => ({ id, key: kadKey(id.toMultihash().bytes) }))
}

/** Sends each record of `slice` to its closest candidates, a stream per peer; returns the records acknowledged. */
async function sendSlice (components: SweepComponents, slice: KeyedRecord[], candidates: Candidate[], replicas: number, provider: Uint8Array, peers: number[], report: Pick<SweepResult, 'failures' | 'failedPeers'>, options: AbortOptions & Pick<SweepOptions, 'peerConcurrency'>): Promise<number> {
  const perPeer = new Map<Candidate, KeyedRecord[]>()
  for (const record of slice) {
    const closest = candidates.length <= replicas
      ? candidates
      : [...candidates].sort((a, b) => closer(a.key, b.key, record.key)).slice(0, replicas)
    for (const candidate of closest) {
      let list = perPeer.get(candidate)
      if (list == null) {
        list = []
        perPeer.set(candidate, list)
      }
      list.push(record)
    }
  }
  const work = [...perPeer]
  let acked = 0
  const worker = async (): Promise<void> => {
    for (let next = work.shift(); next != null; next = work.shift()) {
      const [candidate, list] = next
      const done = await sendTo(components, candidate.id, list, provider, report, options)
      for (let j = 0; j < done; j++) {
        peers[list[j]!.index]!++
      }
      acked += done
    }
  }
  await Promise.all(Array.from({ length: Math.min(Math.max(1, options.peerConcurrency ?? SWEEP_PEER_CONCURRENCY), work.length) }, worker))
  throwIfStopped(options.signal)
  return acked
}

/**
 * Sends `records` to one peer over one stream, in batches each followed by a
 * PING; returns how many the peer acknowledged. A stream that fails is opened
 * once more for the rest; a second failure leaves the rest unacknowledged
 * (for the record's other peers to carry) and is noted in `failures`.
 */
async function sendTo (components: SweepComponents, peer: PeerId, records: KeyedRecord[], provider: Uint8Array, report: Pick<SweepResult, 'failures' | 'failedPeers'>, options: AbortOptions): Promise<number> {
  let acked = 0
  for (let attempt = 1; acked < records.length; attempt++) {
    let stream: Stream | undefined
    try {
      stream = await components.libp2p.dialProtocol(peer, components.protocol, { signal: deadline(options.signal) })
      const lp = lpStream(stream)
      while (acked < records.length) {
        const batch = records.slice(acked, acked + SWEEP_BATCH)
        const signal = deadline(options.signal)
        await lp.writeV([...batch.map(r => encodeAddProvider(r.mh, provider)), encodePing()], { signal })
        const reply = await lp.read({ signal })
        if (messageType(reply.subarray()) !== PING) {
          throw new ProtocolError(`peer ${peer.toString()} answered a DHT PING with something else`)
        }
        acked += batch.length
      }
      await stream.close({ signal: deadline(options.signal) })
    } catch (err) {
      stream?.abort(err instanceof Error ? err : new ProtocolError(String(err)))
      if (attempt >= 2 || options.signal?.aborted === true) {
        const text = `${peer.toString()}: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`
        report.failedPeers++
        if (report.failures.length < MAX_FAILURES_KEPT) {
          report.failures.push(text)
        }
        break
      }
    }
  }
  return acked
}

function deadline (signal?: AbortSignal): AbortSignal {
  const timeout = AbortSignal.timeout(SWEEP_ACK_TIMEOUT_MS)
  return signal == null ? timeout : AbortSignal.any([signal, timeout])
}

function throwIfStopped (signal?: AbortSignal): void {
  if (signal?.aborted === true) {
    throw abortReason(signal, 'announcing')
  }
}

/** The Kademlia key of a record or a peer: the SHA-256 of its multihash, as kad-dht computes it. */
export function kadKey (multihash: Uint8Array): Uint8Array {
  return createHash('sha256').update(multihash).digest()
}

/** Which of `parts` equal parts of the key space the Kademlia `key` (see kadKey) lies in. */
export function keyPart (key: Uint8Array, parts: number): number {
  const top = ((key[0]! << 24) >>> 0) + (key[1]! << 16) + (key[2]! << 8) + key[3]!
  return Math.floor(top / 2 ** 32 * parts)
}

/** Negative when `a` is closer to `key` than `b` (XOR distance), without building the distances. */
function closer (a: Uint8Array, b: Uint8Array, key: Uint8Array): number {
  for (let i = 0; i < key.length; i++) {
    const da = a[i]! ^ key[i]!
    const db = b[i]! ^ key[i]!
    if (da !== db) {
      return da - db
    }
  }
  return 0
}

function compare (a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) {
      return a[i]! - b[i]!
    }
  }
  return 0
}

/** The length in bits of the prefix two keys share (the leading zero bits of their distance), without building the distance. */
function sharedPrefixBits (a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! ^ b[i]!
    if (d !== 0) {
      return i * 8 + Math.clz32(d) - 24
    }
  }
  return a.length * 8
}

function varint (value: number): number[] {
  const out: number[] = []
  while (value > 0x7f) {
    out.push((value & 0x7f) | 0x80)
    value >>>= 7
  }
  out.push(value)
  return out
}

function field (tag: number, bytes: Uint8Array): Uint8Array {
  const head = [tag, ...varint(bytes.length)]
  const out = new Uint8Array(head.length + bytes.length)
  out.set(head)
  out.set(bytes, head.length)
  return out
}

function concat (parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const part of parts) {
    out.set(part, at)
    at += part.length
  }
  return out
}

/** The Peer sub-message naming this node as the provider, with its addresses. */
function encodeProvider (peerId: PeerId, addrs: Multiaddr[]): Uint8Array {
  return field(0x4a, concat([field(0x0a, peerId.toMultihash().bytes), ...addrs.map(a => field(0x12, a.bytes))]))
}

function encodeAddProvider (mh: Uint8Array, provider: Uint8Array): Uint8Array {
  return concat([new Uint8Array([0x08, ADD_PROVIDER]), field(0x12, mh), provider])
}

function encodePing (): Uint8Array {
  return new Uint8Array([0x08, PING])
}

/** The type of a DHT message (field 1), or undefined if it does not start with it. */
function messageType (bytes: Uint8Array): number | undefined {
  if (bytes.length >= 2 && bytes[0] === 0x08 && bytes[1]! < 0x80) {
    return bytes[1]
  }
  if (bytes.length === 0) {
    // proto3 leaves out a zero type (PUT_VALUE); never a PING
    return 0
  }
  return undefined
}
