/**
 * The STUN responder a relay server runs: a Binding request over UDP to the
 * port number of its TCP listen address gets the sender's address and port
 * back in XOR-MAPPED-ADDRESS; anything else gets no answer.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createSocket, type Socket } from 'node:dgram'
import { randomBytes } from 'node:crypto'
import { stunBindingResponse, stunUrlsFrom } from '../../src/network/stun.js'
import { Cluster } from '../utils/cluster.js'

function bindingRequest (transactionId: Uint8Array): Uint8Array {
  const msg = new Uint8Array(20)
  const view = new DataView(msg.buffer)
  view.setUint16(0, 0x0001)
  view.setUint16(2, 0)
  view.setUint32(4, 0x2112a442)
  msg.set(transactionId, 8)
  return msg
}

function mappedAddress (response: Uint8Array, transactionId: Uint8Array): { address: string, port: number } {
  const view = new DataView(response.buffer, response.byteOffset, response.byteLength)
  expect(view.getUint16(0)).toBe(0x0101)
  expect(view.getUint32(4)).toBe(0x2112a442)
  expect(Buffer.from(response.subarray(8, 20)).equals(Buffer.from(transactionId))).toBe(true)
  expect(view.getUint16(20)).toBe(0x0020)
  expect(view.getUint8(25)).toBe(0x01)
  const port = view.getUint16(26) ^ 0x2112
  const cookie = [0x21, 0x12, 0xa4, 0x42]
  const address = [0, 1, 2, 3].map(i => response[28 + i]! ^ cookie[i]!).join('.')
  return { address, port }
}

describe('STUN', () => {
  const cluster = new Cluster()
  const sockets: Socket[] = []
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.close()
    await cluster.stop()
  })

  it('a relay server answers a Binding request on UDP at its TCP port with the address it came from', async () => {
    const r = await cluster.node({ relay: { server: true } })
    const port = Number(r.getMultiaddrs()[0]!.split('/')[4])
    const socket = createSocket('udp4')
    sockets.push(socket)
    await new Promise<void>(resolve => socket.bind(0, '127.0.0.1', resolve))
    const id = randomBytes(12)
    const answer = new Promise<Buffer>((resolve, reject) => {
      socket.once('message', resolve)
      // UDP on loopback answers in well under a second; more is no answer at all
      setTimeout(() => { reject(new Error(`no STUN answer from udp 127.0.0.1:${port}`)) }, 10_000).unref()
    })
    socket.send(bindingRequest(id), port, '127.0.0.1')
    const mapped = mappedAddress(await answer, id)
    expect(mapped).toEqual({ address: '127.0.0.1', port: socket.address().port })
  })

  it('answers nothing but a well-formed Binding request', () => {
    const id = randomBytes(12)
    expect(stunBindingResponse(bindingRequest(id), '192.0.2.1', 4000, 'IPv4')).toBeDefined()
    const wrongType = bindingRequest(id); wrongType[1] = 0x11
    const wrongCookie = bindingRequest(id); wrongCookie[4] = 0
    const wrongLength = bindingRequest(id); wrongLength[3] = 8
    for (const bad of [new Uint8Array(0), new Uint8Array(19), wrongType, wrongCookie, wrongLength, randomBytes(600), randomBytes(20)]) {
      expect(stunBindingResponse(bad, '192.0.2.1', 4000, 'IPv4')).toBeUndefined()
    }
    // IPv6: the address is XORed with the cookie and the transaction id
    const v6 = stunBindingResponse(bindingRequest(id), '2001:db8::1', 4000, 'IPv6')!
    expect(v6.byteLength).toBe(20 + 4 + 20)
    expect(new DataView(v6.buffer).getUint8(25)).toBe(0x02)
  })

  it('finds STUN servers at the bootstrap peers\' TCP ports', () => {
    expect(stunUrlsFrom([
      '/ip4/198.51.100.7/tcp/4180/p2p/12D3KooWQ4v',
      '/dns4/dds.example.org/tcp/4180/p2p/12D3KooWQ4v',
      '/ip6/2001:db8::1/tcp/4180/p2p/12D3KooWQ4v',
      '/ip4/198.51.100.7/tcp/4180/ws/p2p/12D3KooWQ4v'
    ])).toEqual(['stun:198.51.100.7:4180', 'stun:dds.example.org:4180', 'stun:[2001:db8::1]:4180'])
  })
})
