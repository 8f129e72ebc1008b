import type { CID } from 'multiformats/cid'
import { unavailableError } from './failures.js'
import { ProviderSearch } from './provider-search.js'
import type { RetrievalComponents } from './index.js'
import type { SessionCore, Slot } from './session-state.js'

/** Bounds of the searches for more holders. */
export interface ParkedLimits {
  /** Providers one search asks the DHT for. */
  maxProviders: number
  /** How long one search may take, in ms. */
  providerTimeoutMs: number
}

/**
 * The chunks of a session that no known peer can serve. Each is searched for
 * in turn (one search at a time, lowest chunk first), by its own CID and by
 * the content's; the holders found, and the peers this node is then connected
 * to, join the session. A chunk that has a peer to try again goes back in the
 * queue; one that was searched for and still has nobody fails with the
 * reasons its peers gave.
 */
export class ParkedChunks {
  private readonly session: SessionCore
  private readonly components: RetrievalComponents
  private readonly limits: ParkedLimits
  private readonly parked = new Set<number>()
  private searching = false

  constructor (session: SessionCore, components: RetrievalComponents, limits: ParkedLimits) {
    this.session = session
    this.components = components
    this.limits = limits
  }

  /** No known peer can serve this chunk: look for more holders. */
  park (slot: Slot): void {
    slot.state = 'parked'
    this.parked.add(slot.index)
    this.searchNext()
    if (!this.searching) {
      // nothing left to search for: settle now rather than wait forever
      this.settle()
    }
  }

  /** The chunk is no longer parked (a request of it ended and it is queued again). */
  remove (index: number): void {
    this.parked.delete(index)
  }

  /** A new peer joined: every parked chunk gets another chance with it. */
  retryAll (): void {
    for (const index of this.parked) {
      this.parked.delete(index)
      this.session.requeue(this.session.slots.get(index)!)
    }
  }

  private searchNext (): void {
    if (this.searching || this.session.signal.aborted) {
      return
    }
    const slot = [...this.parked].sort((a, b) => a - b).map(i => this.session.slots.get(i)).find(s => s != null && !s.searched)
    if (slot == null) {
      return
    }
    slot.searched = true
    this.searching = true
    this.search(slot.cid!).finally(() => {
      this.searching = false
      this.settle()
      this.searchNext()
      this.session.pump()
    // search() reports nothing but the peers it adds; settle() fails the chunks nobody holds
    }).catch(() => {})
  }

  /**
   * Searches the DHT for holders of the chunk and, side by side, of the
   * content's manifest, which every holder announces whatever its announce
   * strategy (a holder that announces only manifests has no chunk records).
   * Then every connected peer joins too.
   */
  private async search (cid: CID): Promise<void> {
    await Promise.all([this.searchFor(cid), this.searchFor(this.session.content.cid)])
    if (this.session.signal.aborted) {
      return
    }
    for (const peer of this.components.connectedPeers?.() ?? []) {
      this.session.addPeer(peer)
    }
  }

  /** Adds every holder of `cid` the DHT names, within the search's limits. */
  private async searchFor (cid: CID): Promise<void> {
    const search = new ProviderSearch(this.components, cid, { count: this.limits.maxProviders, timeoutMs: this.limits.providerTimeoutMs, signal: this.session.signal })
    try {
      for (let peer = await search.next(); peer != null; peer = await search.next()) {
        this.session.addPeer(peer)
      }
    } catch {
      // a failed search just finds nobody new
    }
  }

  /**
   * After a search: a parked chunk that now has a peer to try goes back in the
   * queue; one not searched for yet waits for its own search; one that was
   * searched for and still has nobody fails.
   */
  private settle (): void {
    for (const index of this.parked) {
      const slot = this.session.slots.get(index)
      if (slot == null) {
        this.parked.delete(index)
        continue
      }
      if (this.session.candidates(slot).length > 0) {
        this.parked.delete(index)
        this.session.requeue(slot)
        continue
      }
      if (!slot.searched || slot.attempts.size > 0) {
        // wait for its own search, or for the request still in flight
        continue
      }
      this.parked.delete(index)
      this.session.fail(slot, unavailableError(slot.cid!, slot.failures, { content: this.session.content.cid, index: slot.index, chunks: this.session.content.chunks }))
    }
  }
}
