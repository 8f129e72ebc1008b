/**
 * Helpers of the network tests: bare libp2p nodes (TCP on 127.0.0.1, Noise,
 * Yamux), a network service on one of them with a memory store, raw streams
 * for peers that misbehave, and scripted responders for requester-side tests.
 */
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { PeerId, Stream, StreamCloseEvent } from '@libp2p/interface'
import * as lp from 'it-length-prefixed'
import { Uint8ArrayList } from 'uint8arraylist'
import { pb, uint64ToNumber, type RequestMessage, type RequestProps, type ResponseMessage, type ResponseProps } from '../../src/pb/index.js'
import { networkService, type NetworkInit, type NetworkService } from '../../src/network/index.js'
import { DDS_PROTOCOL } from '../../src/network/constants.js'
import { FrameDecoder } from '../../src/network/frame-decoder.js'
import { memoryStorage } from '../../src/storage/memory/index.js'
import type { StorageProvider } from '../../src/storage/index.js'
import { WAIT_MS, waitFor } from '../utils/wait.js'

/** A bare libp2p node listening on 127.0.0.1. */
export async function bareNode (): Promise<Libp2p> {
  return createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { allow: ['/ip4/127.0.0.1'] }
  })
}

/** A network service running on its own bare libp2p node. */
export interface ServiceNode {
  libp2p: Libp2p
  storage: StorageProvider
  network: NetworkService
  peerId: PeerId
  stop(): Promise<void>
}

/** Starts a bare node with a memory store (or `storage`) and a started network service. */
export async function serviceNode (init: NetworkInit = {}, storage: StorageProvider = memoryStorage()): Promise<ServiceNode> {
  const libp2p = await bareNode()
  await storage.open()
  const network = networkService(init)({ libp2p, storage })
  await network.start()
  return {
    libp2p,
    storage,
    network,
    peerId: libp2p.peerId,
    async stop () {
      await network.stop()
      await libp2p.stop()
      await storage.close().catch(() => {})
    }
  }
}

/** Tells `from` where `to` listens, so `dialProtocol(to.peerId)` works. */
export async function learn (from: Libp2p, to: Libp2p): Promise<void> {
  await from.peerStore.merge(to.peerId, { multiaddrs: to.getMultiaddrs() })
}

/** A response's status, whatever its arm. */
export function statusOf (response: ResponseMessage | undefined): number | null | undefined {
  switch (response?.body) {
    case 'retrieveChunk': return response.retrieveChunk?.status
    case 'storeChunk': return response.storeChunk?.status
    case 'replicate': return response.replicate?.status
    case 'error': return response.error?.status
    default: return undefined
  }
}

export function idOf (response: ResponseMessage | undefined): number | undefined {
  return response == null ? undefined : uint64ToNumber(response.id, 'response id')
}

/**
 * A raw stream from a (possibly misbehaving) peer: records every byte it
 * receives, decodes them as Responses on demand and says how it ended.
 * `paused` streams never read: the muxer stops granting the node window.
 */
export class RawStream {
  readonly stream: Stream
  private readonly received = new Uint8ArrayList()
  private closeEvent?: StreamCloseEvent

  private constructor (stream: Stream, paused: boolean) {
    this.stream = stream
    if (paused) {
      stream.pause()
    }
    stream.addEventListener('message', (evt) => { this.received.append(evt.data) })
    stream.addEventListener('close', (evt) => { this.closeEvent = evt })
  }

  static async open (from: Libp2p, to: PeerId, options: { paused?: boolean } = {}): Promise<RawStream> {
    const stream = await from.dialProtocol(to, DDS_PROTOCOL, { signal: AbortSignal.timeout(WAIT_MS) })
    return new RawStream(stream, options.paused === true)
  }

  /** Hands bytes to the stream without waiting for it to drain; false if it refused them. */
  push (bytes: Uint8Array): boolean {
    try {
      this.stream.send(bytes)
      return true
    } catch {
      return false
    }
  }

  /** Writes bytes and waits for the stream to drain; false if it could not (reset, or no drain in `ms`). */
  async write (bytes: Uint8Array, ms = WAIT_MS): Promise<boolean> {
    try {
      if (!this.stream.send(bytes)) {
        await this.stream.onDrain({ signal: AbortSignal.timeout(ms) })
      }
      return true
    } catch {
      return false
    }
  }

  async writeRequests (requests: RequestProps[]): Promise<boolean> {
    return this.write(encodeFrames(requests.map(r => pb.Request.encode(r).finish())))
  }

  /** Every complete Response received so far. */
  responses (): ResponseMessage[] {
    const decoder = new FrameDecoder(64 * 1024 * 1024, 1024 * 1024 * 1024)
    return [...decoder.decode(this.received.sublist())].map(frame => pb.Response.decode(frame.subarray()))
  }

  async waitForResponses (count: number, ms = WAIT_MS): Promise<ResponseMessage[]> {
    await waitFor(() => this.responses().length >= count || this.done, `${count} response(s)`, ms)
    return this.responses()
  }

  get done (): boolean {
    return this.closeEvent != null || ['closed', 'reset', 'aborted'].includes(this.stream.status)
  }

  /** True once the stream was reset or aborted (not closed cleanly). */
  get reset (): boolean {
    return this.closeEvent?.error != null || ['reset', 'aborted'].includes(this.stream.status)
  }

  abort (): void {
    this.stream.abort(new Error('test done'))
  }
}

/** Length-prefixes and concatenates frames. */
export function encodeFrames (frames: Uint8Array[]): Uint8Array {
  const list = new Uint8ArrayList()
  for (const frame of frames) {
    list.append(lp.encode.single(frame))
  }
  return list.subarray()
}

/**
 * A node that speaks the protocol by script: for every request it receives
 * it calls `answer`, which may send any frames back (or none) whenever it
 * likes through `reply`.
 */
export async function scriptedResponder (answer: (req: RequestMessage, reply: (response: ResponseProps) => void) => void): Promise<Libp2p> {
  const node = await bareNode()
  await node.handle(DDS_PROTOCOL, (stream) => {
    const decoder = new FrameDecoder(2 * 1024 * 1024, 64 * 1024 * 1024)
    const reply = (response: ResponseProps): void => {
      if (stream.writeStatus === 'writable') {
        stream.send(lp.encode.single(pb.Response.encode(response).finish()))
      }
    }
    stream.addEventListener('message', (evt) => {
      for (const frame of decoder.decode(evt.data)) {
        answer(pb.Request.decode(frame.subarray()), reply)
      }
    })
  })
  return node
}
