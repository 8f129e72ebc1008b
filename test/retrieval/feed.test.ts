/** ProviderFeed: holders of a manifest handed to a session as they are found. */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import { beforeAll, describe, expect, it } from 'vitest'
import { ProviderFeed } from '../../src/retrieval/feed.js'

describe('ProviderFeed', () => {
  let a: PeerId
  let b: PeerId
  beforeAll(async () => {
    a = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    b = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  })

  it('keeps each peer once, in the order found', () => {
    const feed = new ProviderFeed()
    feed.push(a)
    feed.push(b)
    feed.push(a)
    expect(feed.peers).toEqual([a, b])
  })

  it('hands a subscriber the peers found so far, then each new one once', () => {
    const feed = new ProviderFeed()
    feed.push(a)
    const seen: PeerId[] = []
    feed.subscribe(peer => { seen.push(peer) })
    feed.push(b)
    feed.push(b)
    expect(seen).toEqual([a, b])
  })

  it('stops calling a subscriber that unsubscribed', () => {
    const feed = new ProviderFeed()
    const seen: PeerId[] = []
    const unsubscribe = feed.subscribe(peer => { seen.push(peer) })
    unsubscribe()
    feed.push(a)
    expect(seen).toEqual([])
    expect(feed.peers).toEqual([a])
  })

  it('aborts its signal and drops its subscribers when stopped, and stops again harmlessly', () => {
    const feed = new ProviderFeed()
    const seen: PeerId[] = []
    feed.subscribe(peer => { seen.push(peer) })
    expect(feed.signal.aborted).toBe(false)
    feed.stop()
    feed.stop()
    expect(feed.signal.aborted).toBe(true)
    feed.push(a)
    expect(seen).toEqual([])
  })
})
