/**
 * A STUN binding responder (RFC 8489, the Binding method only): a relay
 * server answers it on UDP at the port number of each of its TCP listen
 * addresses, so that nodes behind NATs learn the public address and port
 * their router gives them (a server-reflexive ICE candidate) and can punch a
 * direct WebRTC connection to each other. It answers well-formed Binding
 * requests only, each with one small response (no amplification), and
 * ignores everything else.
 *
 * @module
 */

import { createSocket, type Socket } from 'node:dgram'
import type { ComponentLogger, Libp2pEvents, Logger, Startable, TypedEventTarget } from '@libp2p/interface'
import type { TransportManager } from '@libp2p/interface-internal'

const HEADER_BYTES = 20
const MAGIC_COOKIE = 0x2112a442
const BINDING_REQUEST = 0x0001
const BINDING_SUCCESS = 0x0101
const XOR_MAPPED_ADDRESS = 0x0020
/** A Binding request carries at most a few small attributes; anything larger is not one we answer. */
const MAX_REQUEST_BYTES = 548

/**
 * The response to `msg` if it is a STUN Binding request, else undefined:
 * a Binding success response with the sender's address in
 * XOR-MAPPED-ADDRESS.
 */
export function stunBindingResponse (msg: Uint8Array, address: string, port: number, family: 'IPv4' | 'IPv6'): Uint8Array | undefined {
  if (msg.byteLength < HEADER_BYTES || msg.byteLength > MAX_REQUEST_BYTES) {
    return undefined
  }
  const view = new DataView(msg.buffer, msg.byteOffset, msg.byteLength)
  const type = view.getUint16(0)
  const length = view.getUint16(2)
  if (type !== BINDING_REQUEST || view.getUint32(4) !== MAGIC_COOKIE || length !== msg.byteLength - HEADER_BYTES || length % 4 !== 0) {
    return undefined
  }
  const transactionId = msg.subarray(8, 20)
  const addr = family === 'IPv4' ? ipv4Bytes(address) : ipv6Bytes(address)
  if (addr == null) {
    return undefined
  }
  const valueBytes = 4 + addr.byteLength
  const out = new Uint8Array(HEADER_BYTES + 4 + valueBytes)
  const o = new DataView(out.buffer)
  o.setUint16(0, BINDING_SUCCESS)
  o.setUint16(2, 4 + valueBytes)
  o.setUint32(4, MAGIC_COOKIE)
  out.set(transactionId, 8)
  o.setUint16(20, XOR_MAPPED_ADDRESS)
  o.setUint16(22, valueBytes)
  o.setUint8(24, 0)
  o.setUint8(25, family === 'IPv4' ? 0x01 : 0x02)
  o.setUint16(26, port ^ (MAGIC_COOKIE >>> 16))
  // the address is XORed with the magic cookie, then (IPv6) the transaction id
  const mask = new Uint8Array(16)
  new DataView(mask.buffer).setUint32(0, MAGIC_COOKIE)
  mask.set(transactionId, 4)
  for (let i = 0; i < addr.byteLength; i++) {
    out[28 + i] = addr[i]! ^ mask[i]!
  }
  return out
}

function ipv4Bytes (address: string): Uint8Array | undefined {
  const parts = address.split('.').map(Number)
  if (parts.length !== 4 || parts.some(p => !Number.isInteger(p) || p < 0 || p > 255)) {
    return undefined
  }
  return Uint8Array.from(parts)
}

function ipv6Bytes (address: string): Uint8Array | undefined {
  const [head, tail] = address.split('::') as [string, string | undefined]
  const groups = (s: string | undefined): number[] => s == null || s === '' ? [] : s.split(':').map(g => parseInt(g, 16))
  const left = groups(head)
  const right = groups(tail)
  const fill = tail == null ? 0 : 8 - left.length - right.length
  const all = [...left, ...new Array<number>(Math.max(fill, 0)).fill(0), ...right]
  if (all.length !== 8 || all.some(g => !Number.isInteger(g) || g < 0 || g > 0xffff)) {
    return undefined
  }
  const out = new Uint8Array(16)
  all.forEach((g, i) => { out[2 * i] = g >> 8; out[2 * i + 1] = g & 0xff })
  return out
}

export interface StunServerComponents {
  logger: ComponentLogger
  transportManager: TransportManager
  events: TypedEventTarget<Libp2pEvents>
}

/** The STUN responder a relay server runs; `ports` lists the UDP ports it answers on. */
export interface StunServer {
  readonly ports: number[]
}

class DdsStunServer implements StunServer, Startable {
  private readonly components: StunServerComponents
  private readonly log: Logger
  private readonly sockets: Socket[] = []
  private readonly bound = new Set<string>()
  private running = false

  constructor (components: StunServerComponents) {
    this.components = components
    this.log = components.logger.forComponent('dds:stun')
  }

  readonly [Symbol.toStringTag] = 'dds:stun'

  get ports (): number[] {
    return this.sockets.map(s => s.address().port)
  }

  start (): void {
    this.running = true
    this.components.events.addEventListener('transport:listening', this.onListening)
  }

  private readonly onListening = (): void => {
    this.bindAll().catch((err: Error) => { this.log.error('binding STUN sockets failed - %e', err) })
  }

  /** Binds at the port number of each TCP listen address not bound yet. */
  private async bindAll (): Promise<void> {
    for (const ma of this.components.transportManager.getAddrs()) {
      const parts = ma.toString().split('/')
      if (parts[3] !== 'tcp' || parts.length !== 5 || (parts[1] !== 'ip4' && parts[1] !== 'ip6')) {
        continue
      }
      const host = parts[2]!
      const port = Number(parts[4])
      const key = `${host}:${port}`
      if (this.bound.has(key)) {
        continue
      }
      this.bound.add(key)
      await this.bind(parts[1] === 'ip4' ? 'udp4' : 'udp6', host, port)
    }
  }

  private async bind (type: 'udp4' | 'udp6', host: string, port: number): Promise<void> {
    if (!this.running) {
      return
    }
    const socket = createSocket({ type })
    socket.on('message', (msg, rinfo) => {
      const response = stunBindingResponse(msg, rinfo.address, rinfo.port, rinfo.family as 'IPv4' | 'IPv6')
      if (response != null) {
        socket.send(response, rinfo.port, rinfo.address)
      }
    })
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject)
        socket.bind(port, host, () => { socket.off('error', reject); resolve() })
      })
      socket.on('error', (err) => { this.log.error('STUN socket error - %e', err) })
      if (!this.running) {
        socket.close()
        return
      }
      this.sockets.push(socket)
      this.log('answering STUN on udp %s:%d', host, port)
    } catch (err) {
      socket.close()
      this.log.error('cannot answer STUN on udp %s:%d - %e', host, port, err)
    }
  }

  stop (): void {
    this.running = false
    this.components.events.removeEventListener('transport:listening', this.onListening)
    this.bound.clear()
    for (const socket of this.sockets.splice(0)) {
      socket.close()
    }
  }
}

/** The libp2p service factory of the STUN responder. */
export function stunServer (): (components: StunServerComponents) => StunServer {
  return (components) => new DdsStunServer(components)
}

/**
 * STUN server URLs for ICE from peer multiaddrs: `stun:<host>:<port>` for
 * each `/ip4|ip6|dns4|dns6/<host>/tcp/<port>` (a relay server answers STUN
 * on UDP at its TCP port number).
 */
export function stunUrlsFrom (addrs: string[]): string[] {
  const urls = new Set<string>()
  for (const addr of addrs) {
    const parts = addr.split('/')
    if (parts.length >= 5 && ['ip4', 'ip6', 'dns4', 'dns6', 'dns'].includes(parts[1]!) && parts[3] === 'tcp' && /^\d+$/.test(parts[4]!)) {
      const host = parts[1] === 'ip6' ? `[${parts[2]}]` : parts[2]
      urls.add(`stun:${host}:${parts[4]}`)
    }
  }
  return [...urls]
}
