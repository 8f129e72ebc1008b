/**
 * The Discovery implementation on @libp2p/kad-dht.
 *
 * It adds to the raw DHT calls what DDS needs from them: deadlines on every
 * operation, a lone node that answers at once instead of waiting for its first
 * DHT peer, a provide that says how many peers took the record, and a provider
 * search that stops as soon as it has enough peers.
 *
 * @module
 */

import { setMaxListeners } from 'node:events'
import { CID } from 'multiformats/cid'
import { base32 } from 'multiformats/bases/base32'
import * as Digest from 'multiformats/hashes/digest'
import { InvalidInputError, TimeoutError, abortReason, throwIfAborted } from '../errors.js'
import { numberOption, timeoutOption } from '../options.js'
import { DEFAULT_FIND_TIMEOUT_MS, DEFAULT_PROVIDE_TIMEOUT_MS, PEER_POLL_MS, REANNOUNCE_PEER_CONCURRENCY } from './constants.js'
import type { Discovery, Provider, ProvideManyOptions, ProvideManyResult, ProvideResult, ReannounceResult } from './index.js'
import { kadKey, keyPart, sweepProvide, type SweepComponents } from './sweep.js'
import type { AbortOptions, PeerId } from '@libp2p/interface'
import type { KadDHT } from '@libp2p/kad-dht'

export interface KadDiscoveryInit {
  /**
   * Milliseconds a `provide` may run (a whole number from 1 to 2147483647): the walk to the closest peers plus the
   * ADD_PROVIDER messages. Applies whether or not the caller passes a signal
   * (the earlier of the two ends the call). When it runs out after at least
   * one peer took the record, `provide` resolves with that count; with none it
   * throws a `TimeoutError`.
   *
   * @default 30000
   */
  provideTimeout?: number

  /**
   * Milliseconds a `findProviders` search may run (a whole number from 1 to
   * 2147483647). When it runs out the
   * iteration simply ends with the providers found so far (finding none is
   * not an error here; callers decide whether that means NotFoundError).
   *
   * @default 30000
   */
  findTimeout?: number
}

/** What Discovery needs from the libp2p node: `{ dht: node.services.dht, peerId: node.peerId }`. */
export interface KadDiscoveryComponents {
  /** The DHT service of the node (see `ddsDht()`). */
  dht: KadDHT
  /** This node's peer id: it is never returned as a provider. */
  peerId: PeerId
  /**
   * The libp2p node, for `provideMany`'s streams to DHT peers and the
   * addresses its records carry. Without it `provideMany` is absent and
   * blocks are announced one by one.
   */
  libp2p?: SweepComponents['libp2p']
}

/**
 * What kad-dht's `KadDHT` class has beyond the exported `KadDHT` interface.
 * Another implementation may lack them, so they are read defensively.
 */
interface KadDHTInternals {
  protocol?: unknown
  routingTable?: { size?: unknown }
  providers?: {
    getProviders?: (cid: CID, options?: AbortOptions) => Promise<PeerId[]>
    addProvider?: (cid: CID, provider: PeerId, options?: AbortOptions) => Promise<void>
    /** Where the records are kept: `${datastorePrefix}/<base32 multihash>/<peer id>` -> time. */
    datastore?: { query?: (query: { prefix: string }, options?: AbortOptions) => AsyncIterable<{ key: { toString(): string } }> }
    datastorePrefix?: unknown
  }
}

/**
 * One operation's deadline: a timer, the caller's signal, and an inner
 * controller that also cancels the DHT query when the operation ends early.
 */
class Deadline {
  /** Aborts on the timeout, on the caller's signal, or on `dispose()`. */
  readonly signal: AbortSignal
  /** True once the timer (not the caller) ended the operation. */
  timedOut = false
  private readonly controller = new AbortController()
  private readonly timer: ReturnType<typeof setTimeout>

  constructor (ms: number, what: string, caller?: AbortSignal) {
    this.timer = setTimeout(() => {
      this.timedOut = true
      this.controller.abort(new TimeoutError(`${what} timed out after ${ms} ms`))
    }, ms)
    // an abandoned iterator must not keep the process alive until the deadline
    this.timer.unref?.()
    this.signal = caller == null ? this.controller.signal : AbortSignal.any([this.controller.signal, caller])
    // every hop of a DHT query listens on this signal
    setMaxListeners(Infinity, this.controller.signal, this.signal)
  }

  /** Stops the timer and cancels whatever still listens on the signal. */
  dispose (): void {
    clearTimeout(this.timer)
    this.controller.abort()
  }
}

class KadDiscovery implements Discovery {
  private readonly dht: KadDHT
  private readonly peerId: PeerId
  private readonly provideTimeout: number
  private readonly findTimeout: number
  private readonly sweep?: SweepComponents
  readonly provideMany?: (cids: CID[], options?: ProvideManyOptions) => Promise<ProvideManyResult>
  readonly reannouncePart?: (part: number, parts: number, options?: AbortOptions) => Promise<ReannounceResult>

  constructor (components: KadDiscoveryComponents, init: KadDiscoveryInit) {
    this.dht = components.dht
    this.peerId = components.peerId
    const protocol = (components.dht as KadDHTInternals).protocol
    if (components.libp2p != null && typeof protocol === 'string') {
      this.sweep = { dht: components.dht, peerId: components.peerId, libp2p: components.libp2p, protocol }
      this.provideMany = this.sweepProvide.bind(this)
      if (this.ownRecords(0, 1) != null) {
        this.reannouncePart = this.sweepPart.bind(this)
      }
    }
    this.provideTimeout = timeoutOption('provideTimeout', init.provideTimeout, DEFAULT_PROVIDE_TIMEOUT_MS)
    this.findTimeout = timeoutOption('findTimeout', init.findTimeout, DEFAULT_FIND_TIMEOUT_MS)
  }

  async provide (cid: CID, options: AbortOptions = {}): Promise<ProvideResult> {
    checkCid(cid)
    const what = `Announcing ${cid}`
    throwIfAborted(options.signal, what)

    if (this.routingTableSize() === 0) {
      // kad-dht would wait for a first DHT peer until the signal fires. Keep
      // the record locally (as kad-dht's provide does first) so this node
      // answers GET_PROVIDERS with itself once peers arrive, and report that
      // nobody took it: the caller announces again after connecting.
      await this.addLocalRecord(cid, options)
      return { peers: 0 }
    }

    const deadline = new Deadline(this.provideTimeout, what, options.signal)
    let peers = 0
    let failure: unknown
    let failed = false
    try {
      for await (const event of this.dht.provide(cid, { signal: deadline.signal })) {
        // one per peer the record was sent to; kad-dht reports no error when none was
        if (event.name === 'PEER_RESPONSE' && event.messageName === 'ADD_PROVIDER') {
          peers++
        }
      }
    } catch (err) {
      failure = err
      failed = true
    } finally {
      deadline.dispose()
    }

    if (options.signal?.aborted === true) {
      throw abortReason(options.signal, what)
    }
    if (deadline.timedOut) {
      if (peers > 0) {
        return { peers }
      }
      throw new TimeoutError(`${what} timed out after ${this.provideTimeout} ms: no DHT peer took the provider record. Check that this node is connected to other DDS nodes, or raise provideTimeout`, { cause: failure })
    }
    if (failed) {
      throw failure
    }
    return { peers }
  }

  /**
   * Announces many CIDs with one sweep of the key space (see sweep.ts): the
   * records are kept locally first, as `provide` does, so that this node
   * answers for them and the DHT's re-announcement covers them.
   */
  private async sweepProvide (cids: CID[], options: ProvideManyOptions = {}, keys?: Uint8Array[], peerConcurrency?: number): Promise<ProvideManyResult> {
    cids.forEach(checkCid)
    throwIfAborted(options.signal, 'Announcing')
    for (const cid of cids) {
      await this.addLocalRecord(cid, options)
    }
    if (this.routingTableSize() === 0 || cids.length === 0) {
      options.onProgress?.({ done: cids.length, total: cids.length })
      return { peers: cids.map(() => 0) }
    }
    const { peers, failures, failedPeers } = await sweepProvide(this.sweep!, cids, {
      signal: options.signal,
      keys,
      peerConcurrency,
      onProgress: ({ done, total }) => { options.onProgress?.({ done, total }) }
    })
    return failedPeers > 0 ? { peers, failures, failedPeers } : { peers }
  }

  /** Re-announces, in one sweep, this node's records whose key lies in part `part` of `parts`. */
  private async sweepPart (part: number, parts: number, options: AbortOptions = {}): Promise<ReannounceResult> {
    if (!Number.isSafeInteger(parts) || parts < 1 || !Number.isSafeInteger(part) || part < 0 || part >= parts) {
      throw new InvalidInputError(`part must be a whole number below parts (a whole number of at least 1), got ${part} of ${parts}`)
    }
    const cids: CID[] = []
    const keys: Uint8Array[] = []
    for await (const { cid, key } of this.ownRecords(part, parts, options)!) {
      cids.push(cid)
      keys.push(key)
    }
    // background work with a part of the day to do it in: fewer peers at once leave the node's serving more of its CPU
    const { peers, failures, failedPeers } = await this.sweepProvide(cids, options, keys, REANNOUNCE_PEER_CONCURRENCY)
    const reached = peers.filter(n => n > 0).length
    return failures != null ? { records: cids.length, reached, failures, failedPeers } : { records: cids.length, reached }
  }

  /**
   * This node's provider records in kad-dht's store whose Kademlia key lies
   * in part `part` of `parts`; undefined when the store cannot be read.
   */
  private ownRecords (part: number, parts: number, options: AbortOptions = {}): AsyncIterable<{ cid: CID, key: Uint8Array }> | undefined {
    const providers = (this.dht as KadDHTInternals).providers
    const query = providers?.datastore?.query
    const prefix = providers?.datastorePrefix
    if (typeof query !== 'function' || typeof prefix !== 'string') {
      return undefined
    }
    const self = this.peerId.toString()
    const datastore = providers!.datastore!
    return (async function * () {
      for await (const entry of query.call(datastore, { prefix: `${prefix}/` }, options)) {
        const [encoded, peer] = entry.key.toString().slice(prefix.length + 1).split('/')
        if (peer !== self || encoded == null) {
          continue
        }
        let cid: CID
        try {
          cid = CID.createV1(RAW_CODEC, Digest.decode(base32.baseDecode(encoded.toLowerCase())))
        } catch {
          continue
        }
        const key = kadKey(cid.multihash.bytes)
        if (keyPart(key, parts) === part) {
          yield { cid, key }
        }
      }
    })()
  }

  findProviders (cid: CID, count: number, options: AbortOptions = {}): AsyncIterable<Provider> {
    // validated here so a bad argument throws at the call, not at the first next()
    checkCid(cid)
    numberOption('findProviders count', count, count)
    return this.find(cid, count, options)
  }

  private async * find (cid: CID, count: number, options: AbortOptions): AsyncGenerator<Provider> {
    const what = `Finding providers of ${cid}`
    throwIfAborted(options.signal, what)

    const deadline = new Deadline(this.findTimeout, what, options.signal)
    const seen = new Set<string>()
    let failure: unknown
    let failed = false
    try {
      // With no DHT peer, kad-dht answers from its local provider store and
      // then waits for a peer until the signal fires: take only the local answer.
      const lone = this.routingTableSize() === 0
      if (lone && !(await this.hasLocalProviders(cid, deadline.signal))) {
        return
      }

      search: for await (const event of this.dht.findProviders(cid, { signal: deadline.signal })) {
        if (event.name !== 'PROVIDER') {
          continue
        }
        for (const peer of event.providers) {
          const key = peer.id.toString()
          if (peer.id.equals(this.peerId) || seen.has(key)) {
            continue
          }
          seen.add(key)
          yield { peerId: peer.id, multiaddrs: peer.multiaddrs }
          if (seen.size >= count) {
            // returning ends the kad-dht generator, which cancels its query
            return
          }
          if (deadline.signal.aborted) {
            break search
          }
        }
        // the local store's answer comes first, marked with path index -1
        if (lone && event.path.index === -1) {
          return
        }
      }
    } catch (err) {
      failure = err
      failed = true
    } finally {
      deadline.dispose()
    }

    if (options.signal?.aborted === true) {
      throw abortReason(options.signal, what)
    }
    if (failed && !deadline.timedOut) {
      throw failure
    }
    // the search was exhausted, or ran out of time: end with what was found
  }

  async waitForPeers (options: AbortOptions = {}): Promise<boolean> {
    while (this.routingTableSize() === 0) {
      if (options.signal?.aborted === true) {
        return false
      }
      await new Promise(resolve => setTimeout(resolve, PEER_POLL_MS))
    }
    return true
  }

  /** The DHT routing table's size, or undefined when the implementation does not expose it. */
  private routingTableSize (): number | undefined {
    const size = (this.dht as KadDHTInternals).routingTable?.size
    return typeof size === 'number' ? size : undefined
  }

  private async hasLocalProviders (cid: CID, signal: AbortSignal): Promise<boolean> {
    const store = (this.dht as KadDHTInternals).providers
    if (typeof store?.getProviders !== 'function') {
      return false
    }
    try {
      const peers = await store.getProviders(cid, { signal })
      return peers.some(peer => !peer.equals(this.peerId))
    } catch {
      return false
    }
  }

  private async addLocalRecord (cid: CID, options: AbortOptions): Promise<void> {
    const store = (this.dht as KadDHTInternals).providers
    if (typeof store?.addProvider !== 'function') {
      return
    }
    await store.addProvider(cid, this.peerId, options)
  }
}

const RAW_CODEC = 0x55


function checkCid (cid: CID): void {
  if (CID.asCID(cid) == null) {
    throw new InvalidInputError(`Expected a CID object, got ${typeof cid}: parse CID strings with parseCid() first`)
  }
}

/**
 * Creates the DDS Discovery on a node's kad-dht service. The options are
 * checked when the factory is given its components.
 *
 * @example
 * ```ts
 * const node = await createDdsLibp2p()
 * const discovery = kadDiscovery()({ dht: node.services.dht, peerId: node.peerId })
 * await discovery.provide(cid)
 * for await (const { peerId, multiaddrs } of discovery.findProviders(cid, 3)) { ... }
 * ```
 */
export function kadDiscovery (init: KadDiscoveryInit = {}): (components: KadDiscoveryComponents) => Discovery {
  return (components) => new KadDiscovery(components, init)
}
