import type { PeerId } from '@libp2p/interface'

/**
 * The peers one retrieval asks, in the order they were found, with how many
 * requests each has in flight. A peer that lied or broke the protocol is
 * dropped for the rest of the retrieval.
 */
export class ProviderSet {
  private readonly peers = new Map<string, { peer: PeerId, load: number }>()
  private readonly dropped = new Set<string>()

  /** Adds a peer unless it is already known or was dropped. Returns true if added. */
  add (peer: PeerId): boolean {
    const key = peer.toString()
    if (this.peers.has(key) || this.dropped.has(key)) {
      return false
    }
    this.peers.set(key, { peer, load: 0 })
    return true
  }

  drop (peer: PeerId): void {
    const key = peer.toString()
    this.peers.delete(key)
    this.dropped.add(key)
  }

  /** The peers still in the set, in the order they were added. */
  list (): PeerId[] {
    return [...this.peers.values()].map(e => e.peer)
  }

  get size (): number {
    return this.peers.size
  }

  /** The least loaded peer not in `exclude`, or undefined when every peer was tried. */
  pick (exclude: Set<string>): PeerId | undefined {
    let best: { peer: PeerId, load: number } | undefined
    for (const [key, entry] of this.peers) {
      if (!exclude.has(key) && (best == null || entry.load < best.load)) {
        best = entry
      }
    }
    return best?.peer
  }

  /** Marks one more (or, with -1, one fewer) request in flight to `peer`. */
  adjustLoad (peer: PeerId, delta: number): void {
    const entry = this.peers.get(peer.toString())
    if (entry != null) {
      entry.load += delta
    }
  }
}
