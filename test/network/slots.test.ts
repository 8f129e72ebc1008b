/**
 * Slot admission's address prefixes and its decisions, on the table the
 * responder keeps (the real-node behaviour is in test/attack/slot-jam.test.ts).
 */
import { describe, it, expect } from 'vitest'
import { multiaddr } from '@multiformats/multiaddr'
import { addressPrefix, admit, type ServedStream, type SlotLimits, type SlotTable } from '../../src/network/slots.js'

const LIMITS: SlotLimits = { maxConcurrentRequests: 8, maxRequestsPerPeer: 4, maxRequestsPerPrefix: 6, stallGraceMs: 500 }

function table (): SlotTable {
  return { active: 0, perPeer: new Map(), perPrefix: new Map(), served: new Set() }
}

/** A stream of `peerKey` in `prefix` holding `slots` slots, its oldest answer waiting since `waitingSince`. */
function stream (t: SlotTable, peerKey: string, prefix: string, slots = 0, waitingSince?: number): ServedStream & { evicted: boolean } {
  const s = {
    peerKey,
    prefix,
    slots,
    waitingSince,
    evicted: false,
    evict () { s.evicted = true; t.served.delete(s) }
  }
  t.served.add(s)
  t.active += slots
  t.perPeer.set(peerKey, (t.perPeer.get(peerKey) ?? 0) + slots)
  t.perPrefix.set(prefix, (t.perPrefix.get(prefix) ?? 0) + slots)
  return s
}

describe('addressPrefix', () => {
  it('keys IPv4 by /24, IPv6 by /48, and a relayed or IP-less address by the peer', () => {
    expect(addressPrefix(multiaddr('/ip4/127.0.0.1/tcp/1'), 'a')).toBe(addressPrefix(multiaddr('/ip4/127.0.0.200/tcp/2'), 'b'))
    expect(addressPrefix(multiaddr('/ip4/10.0.1.1/tcp/1'), 'a')).not.toBe(addressPrefix(multiaddr('/ip4/10.0.2.1/tcp/1'), 'a'))
    expect(addressPrefix(multiaddr('/ip6/2001:db8:1::1/tcp/1'), 'a')).toBe(addressPrefix(multiaddr('/ip6/2001:db8:1:ffff::2/tcp/1'), 'b'))
    expect(addressPrefix(multiaddr('/ip6/2001:db8:1::1/tcp/1'), 'a')).not.toBe(addressPrefix(multiaddr('/ip6/2001:db8:2::1/tcp/1'), 'a'))
    expect(addressPrefix(multiaddr('/ip6/::ffff:10.0.1.9/tcp/1'), 'a')).toBe(addressPrefix(multiaddr('/ip4/10.0.1.1/tcp/1'), 'b'))
    const relayed = '/ip4/10.0.1.1/tcp/1/p2p/12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf/p2p-circuit'
    expect(addressPrefix(multiaddr(relayed), 'a')).toBe('peer:a')
    expect(addressPrefix(undefined, 'a')).toBe('peer:a')
  })
})

describe('admit', () => {
  it('answers BUSY past the per-peer limit, with a retry-after', () => {
    const t = table()
    const s = stream(t, 'a', 'p', 4)
    const got = admit(t, s, LIMITS)
    expect(got.admitted).toBe(false)
    expect(!got.admitted && got.retryAfterMs).toBeGreaterThan(0)
  })

  it('serves a peer with no slot past a full prefix and a full node, within the reserve', () => {
    const t = table()
    stream(t, 'x', 'p', 4)
    stream(t, 'y', 'p', 2)
    stream(t, 'z', 'q', 2)
    const honest = stream(t, 'h', 'p')
    expect(admit(t, honest, LIMITS).admitted).toBe(true)
    // the reserve (1/8 of 8 = 1) is used up: the next new peer waits
    t.active++
    const late = stream(t, 'k', 'r')
    expect(admit(t, late, LIMITS).admitted).toBe(false)
  })

  it('serves a peer under its fair share of a full prefix past it, and holds back the peer over it', () => {
    const t = table()
    // x filled the prefix's 6 slots alone (over its share of 3 now that h holds one)
    const x = stream(t, 'x', 'p', 4)
    stream(t, 'x', 'p', 2)
    const h = stream(t, 'h', 'p', 1)
    expect(admit(t, h, LIMITS).admitted).toBe(true)
    // x stays BUSY as its requests finish while the prefix is full
    expect(admit(t, x, { ...LIMITS, maxRequestsPerPeer: 10 }).admitted).toBe(false)
    // h at its share (6 / 2 peers) waits like everyone else
    t.active += 2
    t.perPeer.set('h', 3)
    t.perPrefix.set('p', 9)
    expect(admit(t, h, { ...LIMITS, maxConcurrentRequests: 10 }).admitted).toBe(false)
  })

  it("evicts the longest-stalled stream of a peer holding more slots, and no one else's", () => {
    const t = table()
    const now = 10_000
    const reader = stream(t, 'r', 'q', 2, now - 5000)
    const old = stream(t, 'x', 'p', 3, now - 2000)
    const older = stream(t, 'y', 'p', 3, now - 3000)
    const asker = stream(t, 'h', 's', 1)
    // the node is full (9 of 8); the asker holds 2 slots over its streams
    t.perPeer.set('h', 2)
    // 'r' holds as many slots as the asker: not a victim, even stalled longest
    expect(admit(t, asker, LIMITS, now).admitted).toBe(true)
    expect(older.evicted).toBe(true)
    expect(old.evicted).toBe(false)
    expect(reader.evicted).toBe(false)
  })

  it('names when a stalled stream may be evicted as the retry-after', () => {
    const t = table()
    const now = 10_000
    stream(t, 'x', 'p', 7, now - 200)
    const asker = stream(t, 'h', 's', 1)
    // the reserve is in use: the asker, under its fair share, is not let past the limit
    t.active++
    const got = admit(t, asker, LIMITS, now)
    expect(got).toMatchObject({ admitted: false, retryAfterMs: 300 })
  })
})
