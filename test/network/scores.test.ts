import { describe, it, expect } from 'vitest'
import { PeerScores } from '../../src/network/scores.js'
import { BAN_SCORE, MAX_SCORED_PEERS, PENALTY_PROTOCOL_VIOLATION, PENALTY_WRONG_BYTES } from '../../src/network/constants.js'

describe('PeerScores', () => {
  it('bans a peer that sent wrong bytes at once, for the ban duration', () => {
    let now = 1000
    const scores = new PeerScores(60_000, () => now)
    expect(scores.penalise('p', PENALTY_WRONG_BYTES, 'wrong bytes')).toBe(true)
    expect(scores.isBanned('p')).toBe(true)
    expect(scores.standing('p').lastReason).toBe('wrong bytes')
    now += 59_999
    expect(scores.isBanned('p')).toBe(true)
    now += 2
    expect(scores.isBanned('p')).toBe(false)
  })

  it('bans after repeated protocol violations, not after one', () => {
    const scores = new PeerScores()
    expect(scores.penalise('p', PENALTY_PROTOCOL_VIOLATION, 'x')).toBe(false)
    expect(scores.standing('p').score).toBe(-PENALTY_PROTOCOL_VIOLATION)
    expect(-2 * PENALTY_PROTOCOL_VIOLATION).toBeLessThanOrEqual(BAN_SCORE)
    expect(scores.penalise('p', PENALTY_PROTOCOL_VIOLATION, 'x')).toBe(true)
    expect(scores.isBanned('other')).toBe(false)
  })

  it('rewards good answers back towards zero, never above', () => {
    const scores = new PeerScores()
    scores.penalise('p', 5, 'timeout')
    scores.reward('p', 3)
    expect(scores.standing('p').score).toBe(-2)
    scores.reward('p', 10)
    expect(scores.standing('p').score).toBe(0)
  })

  it('forgets the least recently changed peers past its bound', () => {
    const scores = new PeerScores()
    for (let i = 0; i <= MAX_SCORED_PEERS; i++) {
      scores.penalise(`p${i}`, 1, 'x')
    }
    expect(scores.standing('p0').score).toBe(0)
    expect(scores.standing(`p${MAX_SCORED_PEERS}`).score).toBe(-1)
  })
})
