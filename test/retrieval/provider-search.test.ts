/**
 * ProviderSearch against a small Discovery written here that yields the
 * holders a test gives it (and waits, when told to, for a gate or for the
 * search's signal), so that every way a search ends can be reached exactly.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { AbortOptions, PeerId } from '@libp2p/interface'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { CID } from 'multiformats/cid'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { cidForBlock } from '../../src/cid.js'
import type { Discovery, Provider, ProvideResult } from '../../src/discovery/index.js'
import { ProviderFeed } from '../../src/retrieval/feed.js'
import { ProviderSearch, type ProviderSearchComponents } from '../../src/retrieval/provider-search.js'

/** A step of the listed discovery: a holder to yield, a gate to wait for, or an error to throw. */
type Step = Provider | Promise<void> | Error

/** Yields its steps in order, then ends; waits on a gate until it opens or the search's signal aborts. */
class ListedDiscovery implements Discovery {
  readonly calls: Array<{ cid: CID, count: number, signal?: AbortSignal }> = []
  closed = 0
  /** Resolves once a search has run its cleanup (ended, failed, aborted or returned). */
  readonly ended = Promise.withResolvers<void>()
  private readonly steps: Step[]

  constructor (steps: Step[]) {
    this.steps = steps
  }

  async provide (): Promise<ProvideResult> {
    return { peers: 0 }
  }

  async * findProviders (cid: CID, count: number, options: AbortOptions = {}): AsyncIterable<Provider> {
    this.calls.push({ cid, count, signal: options.signal })
    try {
      for (const step of this.steps) {
        if (step instanceof Error) {
          throw step
        }
        if (step instanceof Promise) {
          await abortable(step, options.signal)
          continue
        }
        yield step
      }
    } finally {
      this.closed++
      this.ended.resolve()
    }
  }
}

async function abortable (gate: Promise<void>, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted()
  await new Promise<void>((resolve, reject) => {
    signal?.addEventListener('abort', () => { reject(signal.reason) }, { once: true })
    gate.then(resolve, reject)
  })
}

/** A gate that never opens: the discovery waits until the search's signal aborts. */
const NEVER = new Promise<void>(() => {})

const cid = cidForBlock(new TextEncoder().encode('a block to find'))
const TIMEOUT_MS = 5_000

describe('ProviderSearch', () => {
  const peers: PeerId[] = []
  const addrs = (i: number): Multiaddr[] => [multiaddr(`/ip4/127.0.0.1/tcp/${4000 + i}`)]
  const holder = (i: number): Provider => ({ peerId: peers[i]!, multiaddrs: addrs(i) })
  let recorded: Array<[string, string[]]>

  beforeAll(async () => {
    for (let i = 0; i < 3; i++) {
      peers.push(peerIdFromPrivateKey(await generateKeyPair('Ed25519')))
    }
  })

  afterEach(() => {
    vi.useRealTimers()
  })

  /** `stalled`: recording a holder's addresses waits (as a peer-store write under a held lock does) until its signal aborts. */
  function search (discovery: Discovery, signal?: AbortSignal, stalled = false): ProviderSearch {
    recorded = []
    const components: ProviderSearchComponents = {
      discovery,
      addPeerAddresses: async (peer, multiaddrs, options) => {
        if (stalled) {
          await abortable(NEVER, options?.signal)
        }
        recorded.push([peer.toString(), multiaddrs.map(String)])
      }
    }
    return new ProviderSearch(components, cid, { count: 2, timeoutMs: TIMEOUT_MS, signal })
  }

  it('hands on each holder with its addresses recorded, then ends', async () => {
    const discovery = new ListedDiscovery([holder(0), holder(1)])
    const providers = search(discovery)
    expect(await providers.next()).toBe(peers[0])
    expect(await providers.next()).toBe(peers[1])
    expect(await providers.next()).toBeUndefined()
    expect(await providers.next()).toBeUndefined()
    expect(providers.found).toBe(2)
    expect(recorded).toEqual([[peers[0]!.toString(), addrs(0).map(String)], [peers[1]!.toString(), addrs(1).map(String)]])
    expect(discovery.calls).toHaveLength(1)
    expect(discovery.calls[0]!.cid.equals(cid)).toBe(true)
    expect(discovery.calls[0]!.count).toBe(2)
    expect(discovery.closed).toBe(1)
  })

  it('ends quietly when its deadline passes, and not before', async () => {
    vi.useFakeTimers()
    const discovery = new ListedDiscovery([holder(0), NEVER])
    const providers = search(discovery)
    expect(await providers.next()).toBe(peers[0])
    let settled = false
    const waiting = providers.next().finally(() => { settled = true })
    await vi.advanceTimersByTimeAsync(TIMEOUT_MS - 1)
    expect(settled).toBe(false)
    await vi.advanceTimersByTimeAsync(1)
    expect(await waiting).toBeUndefined()
    expect(discovery.calls[0]!.signal?.aborted).toBe(true)
    expect(providers.found).toBe(1)
  })

  it("throws the caller's abort as an AbortError", async () => {
    const controller = new AbortController()
    const discovery = new ListedDiscovery([NEVER])
    const providers = search(discovery, controller.signal)
    const waiting = providers.next()
    controller.abort()
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError' })
    expect(await providers.next()).toBeUndefined()
    expect(discovery.closed).toBe(1)
  })

  it('ends quietly at its deadline while recording a holder waits', async () => {
    vi.useFakeTimers()
    const providers = search(new ListedDiscovery([holder(0)]), undefined, true)
    let settled = false
    const waiting = providers.next().finally(() => { settled = true })
    await vi.advanceTimersByTimeAsync(TIMEOUT_MS - 1)
    expect(settled).toBe(false)
    await vi.advanceTimersByTimeAsync(1)
    expect(settled, 'next() settled at the deadline').toBe(true)
    expect(await waiting).toBeUndefined()
    expect(recorded).toEqual([])
  })

  it("throws the caller's abort while recording a holder waits", async () => {
    const controller = new AbortController()
    const providers = search(new ListedDiscovery([holder(0)]), controller.signal, true)
    const waiting = providers.next().then(() => 'resolved', (err: Error) => err)
    controller.abort()
    const outcome = await Promise.race([waiting, new Promise(resolve => setTimeout(resolve, 2_000, 'still waiting'))])
    expect(outcome).toMatchObject({ name: 'AbortError' })
    expect(await providers.next()).toBeUndefined()
  })

  it('ends quietly when stopped while it waits for the DHT, and stays ended', async () => {
    const discovery = new ListedDiscovery([NEVER, holder(0)])
    const providers = search(discovery)
    const waiting = providers.next()
    providers.stop()
    providers.stop()
    expect(await waiting).toBeUndefined()
    expect(await providers.next()).toBeUndefined()
    expect(discovery.calls[0]!.signal?.aborted).toBe(true)
    expect(discovery.closed).toBe(1)
  })

  it('throws an error of the discovery that is neither its deadline nor a stop', async () => {
    const providers = search(new ListedDiscovery([holder(0), new Error('the DHT broke')]))
    expect(await providers.next()).toBe(peers[0])
    await expect(providers.next()).rejects.toThrow('the DHT broke')
    expect(await providers.next()).toBeUndefined()
  })

  it('hands the holders found later to a feed, in the background', async () => {
    let open!: () => void
    const gate = new Promise<void>(resolve => { open = resolve })
    const discovery = new ListedDiscovery([holder(0), gate, holder(1)])
    const providers = search(discovery)
    const feed = new ProviderFeed()
    feed.push((await providers.next())!)
    providers.feed(feed)
    expect(feed.peers).toEqual([peers[0]])
    open()
    await discovery.ended.promise
    expect(feed.peers).toEqual([peers[0], peers[1]])
    expect(providers.found).toBe(2)
  })

  it('stops the background search when the feed stops', async () => {
    const discovery = new ListedDiscovery([holder(0), NEVER, holder(1)])
    const providers = search(discovery)
    const feed = new ProviderFeed()
    await providers.next()
    providers.feed(feed)
    feed.stop()
    await discovery.ended.promise
    expect(discovery.closed).toBe(1)
    expect(discovery.calls[0]!.signal?.aborted).toBe(true)
    expect(await providers.next()).toBeUndefined()
  })

  it('does not search on for a feed that has already stopped', async () => {
    const discovery = new ListedDiscovery([holder(0), holder(1)])
    const providers = search(discovery)
    const feed = new ProviderFeed()
    feed.stop()
    providers.feed(feed)
    expect(await providers.next()).toBeUndefined()
    expect(feed.peers).toEqual([])
  })
})
