import type { PeerId } from '@libp2p/interface'

/**
 * Peers found to hold a manifest, delivered as they are found: the provider
 * search that found the first holder keeps running in the background (within
 * its deadline and provider count) and hands later holders to the session.
 */
export class ProviderFeed {
  readonly peers: PeerId[] = []
  private readonly listeners = new Set<(peer: PeerId) => void>()
  private readonly controller = new AbortController()

  /** Aborts when the feed is no longer wanted; the background search listens to it. */
  get signal (): AbortSignal {
    return this.controller.signal
  }

  push (peer: PeerId): void {
    if (this.peers.some(p => p.equals(peer))) {
      return
    }
    this.peers.push(peer)
    this.listeners.forEach(listener => { listener(peer) })
  }

  /** Calls `listener` for every peer found so far and every one found later; returns an unsubscribe function. */
  subscribe (listener: (peer: PeerId) => void): () => void {
    this.peers.forEach(peer => { listener(peer) })
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  /** Ends the background search. */
  stop (): void {
    this.controller.abort()
    this.listeners.clear()
  }
}
