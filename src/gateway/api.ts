import { ENTRIES_MEDIA_TYPE, readEntries } from './entries.js'
import { PassThrough } from 'node:stream'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { InvalidInputError, NotFoundError, RejectedError, RemoteError, TimeoutError } from '../errors.js'
import { API_PREFIX, CONNECT_PROBE_TIMEOUT_MS, MAX_CATALOG_LIMIT } from './constants.js'
import { PayloadTooLargeError, errorResponse } from './errors.js'
import { checkWriteAccess, type WriteGuardInit } from './guard.js'
import { clientSignal, every, flag, normalizeCid, single, statWithin, type QueryValue } from './request.js'
import type { CatalogEntry, GatewayNode, PeerCatalog } from './types.js'

/** What the /api/v1 routes need. */
export interface ApiInit {
  node: GatewayNode
  guard: WriteGuardInit
  notFoundTimeoutMs: number
  maxUploadBytes?: number
  /** The gateway's own URL, for `/api/v1/id`. */
  url(): string
}

/**
 * How long `GET /api/v1/catalog?peer=<id>` waits for that peer's whole
 * catalog before answering 504, in ms: a peer that is not connected (or
 * does not answer) fails well before the core's request timeout.
 */
export const PEER_CATALOG_TIMEOUT_MS = 10_000

type Query = Record<string, QueryValue>
type CidRequest = FastifyRequest<{ Params: { cid: string }, Querystring: Query }>
type QueryRequest = FastifyRequest<{ Querystring: Query }>

/**
 * `meta=key=value` query parameters as a metadata record. The record has no
 * prototype, so a key such as `__proto__` is an entry like any other (the
 * core's validation decides about it) rather than lost to a setter.
 */
export function parseMetadata (values: string[]): Record<string, string> {
  const metadata: Record<string, string> = Object.create(null)
  for (const value of values) {
    const eq = value.indexOf('=')
    if (eq <= 0) {
      throw new InvalidInputError(`meta "${value.slice(0, 100)}" is not key=value`)
    }
    const key = value.slice(0, eq)
    if (Object.hasOwn(metadata, key)) {
      throw new InvalidInputError(`meta key "${key.slice(0, 100)}" is given twice`)
    }
    metadata[key] = value.slice(eq + 1)
  }
  return metadata
}

function positiveInt (name: string, value: QueryValue, max: number): number | undefined {
  const text = single(value)
  if (text == null) {
    return undefined
  }
  if (!/^\d{1,9}$/.test(text) || Number(text) === 0 || Number(text) > max) {
    throw new InvalidInputError(`${name} must be an integer from 1 to ${max}, got "${text.slice(0, 20)}"`)
  }
  return Number(text)
}

/** Passes an upload through, failing once more than `max` bytes came. */
async function * limited (source: AsyncIterable<Uint8Array>, max: number | undefined): AsyncGenerator<Uint8Array> {
  let total = 0
  for await (const chunk of source) {
    total += chunk.byteLength
    if (max != null && total > max) {
      throw new PayloadTooLargeError(`the upload is larger than this gateway's limit of ${max} bytes`)
    }
    yield chunk
  }
}

async function * nothing (): AsyncGenerator<Uint8Array> {}

/** Shortest interval between two progress lines of `POST /api/v1/pin/<cid>?progress=1`, in ms. */
export const PIN_PROGRESS_INTERVAL_MS = 250

/**
 * `POST /api/v1/pin/<cid>?progress=1`: the pin runs while the answer
 * streams, one JSON object a line (NDJSON): `{"type":"progress",...}` as the
 * content comes in (at most one each PIN_PROGRESS_INTERVAL_MS, and the
 * first and last at once), then `{"type":"done","pin":{...}}` or
 * `{"type":"error","error":{"code","message"}}`.
 */
function pinStream (node: ApiInit['node'], cid: string, signal: AbortSignal, reply: FastifyReply): PassThrough {
  const out = new PassThrough()
  const line = (value: unknown): void => { out.write(`${JSON.stringify(value)}\n`) }
  let sent = 0
  let pending: Record<string, unknown> | undefined
  node.pin(cid, {
    signal,
    onProgress: ({ detail: progress }) => {
      const now = Date.now()
      pending = { type: 'progress', ...progress }
      if (now - sent >= PIN_PROGRESS_INTERVAL_MS || progress.bytes === progress.size) {
        sent = now
        line(pending)
        pending = undefined
      }
    }
  }).then((pin) => {
    if (pending != null) {
      line(pending)
    }
    line({ type: 'done', pin })
  }, (err: unknown) => {
    line({ type: 'error', ...errorResponse(err).body })
  }).finally(() => { out.end() })
  void reply.type('application/x-ndjson').header('Cache-Control', 'no-store')
  return out
}

/**
 * Why `cid` cannot be dropped as a replica: it is this node's own pin, or
 * not held at all.
 */
function notAReplica (cid: string, pin: { kind: string } | undefined): Error {
  if (pin != null) {
    return new RejectedError(`${cid} is this node's own pin, not a replica held for another peer; unpin it (\`dds unpin\`), then gc (\`dds gc\`) removes its blocks`)
  }
  return new NotFoundError(`${cid} is neither a replica nor a pin of this node; \`dds replicas\` lists the replicas it holds`)
}

/** A peer catalog as JSON: its error as `{ code, message }`. */
function peerCatalogJson (catalog: PeerCatalog): { peer: string, entries: CatalogEntry[], error?: { code: string, message: string } } {
  return {
    peer: catalog.peer,
    entries: catalog.entries,
    ...(catalog.error != null ? { error: { code: catalog.error.name, message: catalog.error.message } } : {})
  }
}

/** `POST /api/v1/publish`: the request body streams into `publish`. */
async function publish (init: ApiInit, request: QueryRequest, reply: FastifyReply): Promise<unknown> {
  const { node, maxUploadBytes } = init
  const q = request.query
  const metadata = parseMetadata(every(q.meta))
  const declared = Number(request.headers['content-length'] ?? NaN)
  if (maxUploadBytes != null && declared > maxUploadBytes) {
    reply.header('Connection', 'close')
    throw new PayloadTooLargeError(`the upload (${declared} bytes) is larger than this gateway's limit of ${maxUploadBytes} bytes`)
  }
  const body = (request.body as AsyncIterable<Uint8Array> | undefined) ?? nothing()
  // a folder: its files one after another, each after a line of JSON
  const folder = request.headers['content-type']?.split(';')[0]?.trim() === ENTRIES_MEDIA_TYPE
  let stored: { size: number, chunks: number } | undefined
  try {
    const cid = await node.publish(folder ? readEntries(limited(body, maxUploadBytes)) : limited(body, maxUploadBytes), {
      ...(single(q.name) != null ? { name: single(q.name) } : {}),
      ...(single(q.mediaType) != null ? { mediaType: single(q.mediaType) } : {}),
      ...(Object.keys(metadata).length > 0 ? { metadata } : {}),
      signal: clientSignal(reply),
      onProgress: (evt) => {
        if (evt.type === 'dds:publish:stored') {
          stored = evt.detail as { size: number, chunks: number }
        }
      }
    })
    stored ??= await node.stat(cid)
    return { cid, size: stored.size, chunks: stored.chunks }
  } catch (err) {
    // the rest of the upload is not read: end the connection after the answer
    reply.header('Connection', 'close')
    throw err
  }
}

/** What `POST /api/v1/import` answers. */
export interface ImportJson {
  /** The CAR's roots (base58btc), each pinned. */
  roots: string[]
  /** Blocks read from the CAR and stored. */
  blocks: number
  /** Bytes of those blocks. */
  bytes: number
}

/** `POST /api/v1/import`: the request body, a CAR, streams into `importCar`. */
async function importCar (init: ApiInit, request: QueryRequest, reply: FastifyReply): Promise<ImportJson> {
  const { node, maxUploadBytes } = init
  const declared = Number(request.headers['content-length'] ?? NaN)
  if (maxUploadBytes != null && declared > maxUploadBytes) {
    reply.header('Connection', 'close')
    throw new PayloadTooLargeError(`the upload (${declared} bytes) is larger than this gateway's limit of ${maxUploadBytes} bytes`)
  }
  const body = (request.body as AsyncIterable<Uint8Array> | undefined) ?? nothing()
  const stored = { blocks: 0, bytes: 0 }
  try {
    const roots = await node.importCar(limited(body, maxUploadBytes), {
      signal: clientSignal(reply),
      onProgress: (evt) => {
        if (evt.type === 'dds:import:block') {
          Object.assign(stored, evt.detail)
        }
      }
    })
    return { roots, ...stored }
  } catch (err) {
    // the rest of the upload is not read: end the connection after the answer
    reply.header('Connection', 'close')
    throw err
  }
}

/** A `peer` query parameter, checked to be a peer id. @throws {InvalidInputError} when it is not one */
function peerParam (text: string | undefined): string | undefined {
  if (text == null) {
    return undefined
  }
  try {
    return peerIdFromString(text).toString()
  } catch (err) {
    throw new InvalidInputError(`"${text.slice(0, 100)}" is not a peer id (such as 12D3KooW...)`, { cause: err })
  }
}

/** Peer id of a multiaddr that ends in /p2p/<id>. */
function peerOf (address: string): string | undefined {
  try {
    return multiaddr(address).getComponents().findLast(c => c.name === 'p2p')?.value
  } catch {
    return undefined
  }
}

/**
 * Dials `addr` of a peer this node is already connected to. libp2p answers
 * a dial to a connected peer with the connection it has, without trying the
 * address, so `connect` would report success for an address where nothing
 * listens; this dial is forced, and closed once it has proved the address
 * answers (the peer keeps the connection it had).
 *
 * @throws {RemoteError} when the address does not answer as that peer within CONNECT_PROBE_TIMEOUT_MS
 */
async function probe (node: GatewayNode, addr: string, signal: AbortSignal): Promise<void> {
  const deadline = AbortSignal.timeout(CONNECT_PROBE_TIMEOUT_MS)
  let connection
  try {
    connection = await node.libp2p.dial(multiaddr(addr), { force: true, signal: AbortSignal.any([signal, deadline]) })
  } catch (err) {
    if (signal.aborted) {
      throw err
    }
    const why = deadline.aborted ? `no answer within ${CONNECT_PROBE_TIMEOUT_MS} ms` : (err as Error).message
    throw new RemoteError(`could not reach ${addr.slice(0, 300)} (${why}); this node is connected to that peer through another address`, { cause: err })
  }
  // a probe connection that fails to close is closed by libp2p's idle timeout
  await connection.close().catch(() => {})
}

/**
 * The JSON API under /api/v1. Every POST is a write: see `checkWriteAccess`
 * for who may use it.
 */
export function apiRoutes (app: FastifyInstance, init: ApiInit): void {
  const { node } = init
  void app.register(async (api) => {
    api.addHook('onRequest', async (request, reply) => {
      if (request.method === 'POST') {
        try {
          checkWriteAccess(request, init.guard)
        } catch (err) {
          // the body (perhaps a large upload) is not read: end the connection after the answer
          reply.header('Connection', 'close')
          throw err
        }
      }
    })

    api.post('/publish', async (request: QueryRequest, reply) => publish(init, request, reply))

    api.post('/import', async (request: QueryRequest, reply) => importCar(init, request, reply))

    api.get('/list/:cid', async (request: CidRequest, reply) => {
      const cid = normalizeCid(request.params.cid)
      const signal = clientSignal(reply)
      const deadline = AbortSignal.timeout(init.notFoundTimeoutMs)
      try {
        return { cid, entries: await node.list(cid, { signal: AbortSignal.any([signal, deadline]) }) }
      } catch (err) {
        if (deadline.aborted && !signal.aborted) {
          throw new NotFoundError(`no peer provided ${cid} within ${init.notFoundTimeoutMs} ms`, { cause: err })
        }
        throw err
      }
    })

    api.get('/stat/:cid', async (request: CidRequest, reply) => {
      const cid = normalizeCid(request.params.cid)
      // ?local=0: the description alone, without reading every block of the content
      return statWithin(node, cid, init.notFoundTimeoutMs, clientSignal(reply), single(request.query.local) !== '0')
    })

    api.get('/catalog', async (request: QueryRequest, reply) => {
      const signal = clientSignal(reply)
      const limit = positiveInt('limit', request.query.limit, MAX_CATALOG_LIMIT)
      const options = { signal, ...(limit != null ? { limit } : {}) }
      if (flag(request.query.all)) {
        const [local, peers] = await Promise.all([node.catalog(undefined, options), node.browse(options)])
        return { local, peers: peers.map(peerCatalogJson) }
      }
      const peer = peerParam(single(request.query.peer))
      if (peer == null) {
        return { entries: await node.catalog(undefined, options) }
      }
      const deadline = AbortSignal.timeout(PEER_CATALOG_TIMEOUT_MS)
      try {
        return { entries: await node.catalog(peer, { ...options, signal: AbortSignal.any([signal, deadline]) }) }
      } catch (err) {
        if (deadline.aborted && !signal.aborted) {
          throw new TimeoutError(`peer ${peer.slice(0, 100)} did not send its catalog within ${PEER_CATALOG_TIMEOUT_MS} ms`, { cause: err })
        }
        throw err
      }
    })

    api.get('/pins', async () => node.pins())

    api.get('/replicas', async () => node.replicas())

    api.get('/repo/stat', async () => node.repoStat())

    api.post('/drop/:cid', async (request: CidRequest) => {
      const cid = normalizeCid(request.params.cid)
      if (await node.dropReplica(cid)) {
        return { dropped: true }
      }
      throw notAReplica(cid, (await node.pins()).find(pin => pin.cid === cid))
    })

    api.post('/pin/:cid', async (request: CidRequest, reply) => {
      const cid = normalizeCid(request.params.cid)
      const signal = clientSignal(reply)
      // the manifest first, so that a CID that names no content is refused as every route refuses it
      await statWithin(node, cid, init.notFoundTimeoutMs, signal, false)
      if (flag(request.query.progress)) {
        return reply.send(pinStream(node, cid, signal, reply))
      }
      return node.pin(cid, { signal })
    })

    api.post('/unpin/:cid', async (request: CidRequest) => {
      return { removed: await node.unpin(normalizeCid(request.params.cid)) }
    })

    api.post('/gc', async (_request, reply) => node.gc({ signal: clientSignal(reply) }))

    api.get('/peers', async () => node.peers())

    api.get('/id', async () => ({ peer: node.peerId, addrs: node.getMultiaddrs(), gateway: init.url() }))

    api.post('/connect', async (request: QueryRequest, reply) => {
      const addr = single(request.query.addr)
      if (addr == null || addr === '') {
        throw new InvalidInputError('give the peer\'s multiaddr as ?addr=/ip4/.../tcp/.../p2p/<peer id>')
      }
      const signal = clientSignal(reply)
      const peer = peerOf(addr)
      if (peer != null && node.peers().some(p => p.peer === peer)) {
        await probe(node, addr, signal)
        return { peer }
      }
      await node.connect(addr, { signal })
      return { peer }
    })
  }, { prefix: API_PREFIX })
}
