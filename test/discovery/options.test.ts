import { describe, it, expect } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { KadDHT } from '@libp2p/kad-dht'
import { ddsDht, kadDiscovery, type KadDiscoveryInit } from '../../src/discovery/index.js'
import { AnnounceQueue } from '../../src/discovery/announce-queue.js'
import { cidForBlock } from '../../src/cid.js'
import type { Discovery } from '../../src/discovery/index.js'

/** The options are checked before the DHT is used, so an empty one is enough here. */
async function discoveryWith (init: KadDiscoveryInit): Promise<Discovery> {
  const peerId = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  return kadDiscovery(init)({ dht: {} as unknown as KadDHT, peerId })
}

describe('discovery options', () => {
  it.each([
    ['provideTimeout', 0],
    ['provideTimeout', 1.5],
    ['findTimeout', -5],
    ['findTimeout', 2 ** 31]
  ])('refuses %s = %s, naming it', async (name, value) => {
    await expect(discoveryWith({ [name]: value })).rejects.toMatchObject({
      name: 'InvalidInputError',
      message: expect.stringContaining(name)
    })
  })

  it('refuses a fractional provider count at the call', async () => {
    const discovery = await discoveryWith({})
    const cid = cidForBlock(new Uint8Array([1, 2, 3]))
    expect(() => discovery.findProviders(cid, 2.5)).toThrow(expect.objectContaining({
      name: 'InvalidInputError',
      message: expect.stringContaining('count')
    }))
  })

  it('refuses a DHT stream limit that is not a whole number', () => {
    expect(() => ddsDht({ maxStreams: 0 })).toThrow(expect.objectContaining({ name: 'InvalidInputError', message: expect.stringContaining('maxStreams') }))
  })

  it('refuses an announce concurrency of 0, which would never announce', () => {
    const discovery: Discovery = { provide: async () => ({ peers: 0 }), findProviders: async function * () {} }
    expect(() => new AnnounceQueue(discovery, { concurrency: 0 })).toThrow(expect.objectContaining({ name: 'InvalidInputError', message: expect.stringContaining('concurrency') }))
  })
})
