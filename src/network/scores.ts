import { BAN_SCORE, DEFAULT_BAN_DURATION_MS, MAX_SCORED_PEERS, REWARD_GOOD_ANSWER } from './constants.js'

interface Entry {
  score: number
  bannedUntil: number
  lastReason: string
}

/** What a caller can learn about one peer's standing. */
export interface PeerStanding {
  score: number
  banned: boolean
  lastReason: string
}

/**
 * Remembers how peers behaved. Wrong bytes and protocol violations lower a
 * peer's score; at `BAN_SCORE` or below the peer is banned for a while: its
 * connections are closed (`onBan`), new ones are refused, its inbound streams
 * are reset and the retrieval engine stops asking it. A ban ends by itself
 * once its time is up: `isBanned` compares with the clock, so nothing has to
 * run at expiry. The table is bounded: past `MAX_SCORED_PEERS` the least
 * recently changed entries are forgotten.
 */
export class PeerScores {
  private readonly entries = new Map<string, Entry>()
  private readonly banDurationMs: number
  private readonly now: () => number
  private readonly onBan?: (peer: string, reason: string) => void

  /**
   * @param onBan - called each time a penalty bans `peer` (again): the owner
   * of the connections cuts them there, since a ban is rare and a check on
   * every request would not be
   */
  constructor (banDurationMs = DEFAULT_BAN_DURATION_MS, now: () => number = Date.now, onBan?: (peer: string, reason: string) => void) {
    this.banDurationMs = banDurationMs
    this.now = now
    this.onBan = onBan
  }

  /** Lowers a peer's score by `amount` and records why. Returns true if the peer is now banned. */
  penalise (peer: string, amount: number, reason: string): boolean {
    const entry = this.entries.get(peer) ?? { score: 0, bannedUntil: 0, lastReason: '' }
    entry.score -= amount
    entry.lastReason = reason
    const banned = entry.score <= BAN_SCORE
    if (banned) {
      entry.bannedUntil = this.now() + this.banDurationMs
      entry.score = 0
    }
    this.touch(peer, entry)
    if (banned) {
      this.onBan?.(peer, reason)
    }
    return this.isBanned(peer)
  }

  /** Raises a peer's score a little after a good answer (never above zero). */
  reward (peer: string, amount = REWARD_GOOD_ANSWER): void {
    const entry = this.entries.get(peer)
    if (entry == null) {
      return
    }
    entry.score = Math.min(0, entry.score + amount)
    this.touch(peer, entry)
  }

  isBanned (peer: string): boolean {
    const entry = this.entries.get(peer)
    return entry != null && entry.bannedUntil > this.now()
  }

  standing (peer: string): PeerStanding {
    const entry = this.entries.get(peer)
    return {
      score: entry?.score ?? 0,
      banned: this.isBanned(peer),
      lastReason: entry?.lastReason ?? ''
    }
  }

  private touch (peer: string, entry: Entry): void {
    this.entries.delete(peer)
    this.entries.set(peer, entry)
    while (this.entries.size > MAX_SCORED_PEERS) {
      const oldest = this.entries.keys().next().value
      if (oldest === undefined) {
        break
      }
      this.entries.delete(oldest)
    }
  }
}
