/**
 * Helpers of the gateway tests: real DDS nodes (TCP on 127.0.0.1) with a
 * gateway on a free port, and a small node:http client that keeps the raw
 * status, headers and body bytes.
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import { startGateway, type Dds, type Gateway, type GatewayOptions } from '../../src/index.js'

export { Cluster, CHUNK_SIZE, content, equalBytes, waitFor, sleep } from '../retrieval/helpers.js'

/** The gateways of one test file; `close()` in afterAll. */
export class Gateways {
  private readonly started: Gateway[] = []

  /** Starts a gateway for `node` on 127.0.0.1, on a free port. */
  async start (node: Dds, options: GatewayOptions = {}): Promise<Gateway> {
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
