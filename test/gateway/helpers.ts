/**
 * Helpers of the gateway tests: real DDS nodes (TCP on 127.0.0.1) with a
 * gateway on a free port, and a small node:http client that keeps the raw
 * status, headers and body bytes.
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import { connect } from 'node:net'
import { startGateway, type Gateway, type GatewayNode, type GatewayOptions } from '../../src/gateway/index.js'

/** The gateways of one test file; `close()` in afterAll. */
export class Gateways {
  private readonly started: Gateway[] = []

  /** Starts a gateway for `node` on 127.0.0.1, on a free port. */
  async start (node: GatewayNode, options: GatewayOptions = {}): Promise<Gateway> {
    const gateway = await startGateway(node, { host: '127.0.0.1', port: 0, ...options })
    this.started.push(gateway)
    return gateway
  }

  async close (): Promise<void> {
    await Promise.all(this.started.splice(0).map(async g => { await g.close() }))
  }
}

/** One HTTP exchange as the client saw it. */
export interface HttpResult {
  status: number
  headers: IncomingHttpHeaders
  body: Buffer
}

/** Options of `http`. */
export interface HttpOptions {
  method?: string
  headers?: Record<string, string>
  body?: Uint8Array | AsyncIterable<Uint8Array>
}

/** Sends one request with node:http (no header the caller did not give but Host) and collects the answer. */
export async function http (url: string, options: HttpOptions = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? 'GET', headers: options.headers, agent: false }, (res) => {
      const parts: Buffer[] = []
      res.on('data', (part: Buffer) => parts.push(part))
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }) })
      res.on('error', reject)
    })
    req.on('error', reject)
    const body = options.body
    if (body == null) {
      req.end()
    } else if (body instanceof Uint8Array) {
      req.end(body)
    } else {
      void (async () => {
        for await (const part of body) {
          if (!req.write(part)) {
            await new Promise(resolve => req.once('drain', resolve))
          }
        }
        req.end()
      })().catch(reject)
    }
  })
}

/** The JSON of a response body. */
export function json (result: HttpResult): any {
  return JSON.parse(result.body.toString('utf8'))
}

/**
 * Writes `text` as is on a new TCP connection (for requests node:http would
 * refuse to send) and resolves with everything the server sent until it
 * closed the connection.
 */
export async function rawHttp (port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => { socket.end(text) })
    const parts: Buffer[] = []
    socket.on('data', (part: Buffer) => parts.push(part))
    socket.on('close', () => { resolve(Buffer.concat(parts).toString('latin1')) })
    socket.on('error', reject)
  })
}

/** One `publish` call a watched node received. */
export interface WatchedPublish {
  /** Resolves once publish has read the first bytes of its input. */
  reading: Promise<void>
  /** Whether the input was read to its end. */
  ended: () => boolean
  /** The publish itself: its CID, or its error. */
  result: Promise<string>
}

/**
 * The real node, with each `publish` call recorded: when it starts reading
 * its input, whether it read it all, and how it ended. A gateway started on
 * it serves the node as usual.
 */
export function watchPublishes (node: GatewayNode): { node: GatewayNode, publishes: WatchedPublish[] } {
  const publishes: WatchedPublish[] = []
  const publish: GatewayNode['publish'] = async (input, options) => {
    let started!: () => void
    const reading = new Promise<void>(resolve => { started = resolve })
    let done = false
    async function * watched (): AsyncGenerator<Uint8Array> {
      for await (const part of input as AsyncIterable<Uint8Array>) {
        started()
        yield part
      }
      done = true
    }
    const result = node.publish(watched(), options)
    result.catch(() => {})
    publishes.push({ reading, ended: () => done, result })
    return result
  }
  const watched = new Proxy(node, {
    get (target, property) {
      if (property === 'publish') {
        return publish
      }
      const value = Reflect.get(target, property, target)
      return typeof value === 'function' ? value.bind(target) : value
    }
  })
  return { node: watched, publishes }
}
