/**
 * The /api/v1 routes, the write-API guard, /health, /metrics and the `/`
 * page, against real nodes over TCP on 127.0.0.1.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http'
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { base32 } from 'multiformats/bases/base32'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { PEER_CATALOG_TIMEOUT_MS } from '../../src/gateway/api.js'
import { cidForBlock, parseCid, type Dds } from '../../src/index.js'
import { startGateway, type Gateway } from '../../src/gateway/index.js'
import { Gateways, http, json, rawHttp, watchPublishes, type HttpResult } from './helpers.js'
import { CHUNK_SIZE, equalBytes, pseudoRandomBytes } from '../utils/content.js'
import { Cluster } from '../utils/cluster.js'

async function * slices (bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < bytes.byteLength; offset += size) {
    yield bytes.subarray(offset, offset + size)
  }
}

describe('the /api/v1 routes', () => {
  const cluster = new Cluster()
  const gateways = new Gateways()
  let a: Dds
  let b: Dds
  let gateway: Gateway
  let remote: Gateway

  beforeAll(async () => {
    a = await cluster.node()
    b = await cluster.node({ bootstrap: a.getMultiaddrs() })
    gateway = await gateways.start(a, { notFoundTimeoutMs: 1_000 })
    remote = await gateways.start(b, { notFoundTimeoutMs: 5_000 })
  })
  afterAll(async () => {
    await gateways.close()
    await cluster.stop()
  })

  it('publishes a streamed upload with a name, media type and metadata, then stats it', async () => {
    const data = pseudoRandomBytes(2 * CHUNK_SIZE + 99, 11)
    const url = `${gateway.url}/api/v1/publish?name=${encodeURIComponent('track one.wav')}&mediaType=audio%2Fwav` +
      `&meta=${encodeURIComponent('title=Night & Day')}&meta=${encodeURIComponent('artist=A=B')}`
    const res = await http(url, { method: 'POST', headers: { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' }, body: slices(data, 70_000) })
    expect(res.status).toBe(200)
    const published = json(res)
    expect(published).toEqual({ cid: expect.stringMatching(/^z/), size: data.byteLength, chunks: 3 })
    expect(equalBytes(await a.retrieveBytes(published.cid), data)).toBe(true)

    const stat = await http(`${gateway.url}/api/v1/stat/${published.cid}`)
    expect(stat.status).toBe(200)
    expect(json(stat)).toMatchObject({
      cid: published.cid,
      size: data.byteLength,
      chunks: 3,
      name: 'track one.wav',
      mediaType: 'audio/wav',
      metadata: { title: 'Night & Day', artist: 'A=B' },
      local: true,
      pin: 'local'
    })

    // the same content seen from another node: only its manifest is fetched
    const far = await http(`${remote.url}/api/v1/stat/${published.cid}`)
    expect(far.status).toBe(200)
    expect(json(far)).toMatchObject({ cid: published.cid, size: data.byteLength, local: false, metadata: { title: 'Night & Day' } })
    expect(json(far).pin).toBeUndefined()
  })

  it('publishes a body sent without a Content-Type, and an empty one', async () => {
    const res = await http(`${gateway.url}/api/v1/publish`, { method: 'POST', body: new Uint8Array([1, 2, 3]) })
    expect(res.status).toBe(200)
    expect(json(res)).toMatchObject({ size: 3, chunks: 1 })
    const empty = await http(`${gateway.url}/api/v1/publish`, { method: 'POST' })
    expect(empty.status).toBe(200)
    expect(json(empty)).toMatchObject({ size: 0, chunks: 0 })
  })

  it('keeps metadata keys named like Object.prototype members (__proto__, constructor) as entries', async () => {
    const meta = ['__proto__=x', 'constructor=c', 'title=T'].map(m => `meta=${encodeURIComponent(m)}`).join('&')
    const res = await http(`${gateway.url}/api/v1/publish?${meta}`, { method: 'POST', body: pseudoRandomBytes(100, 15) })
    expect(res.status).toBe(200)
    const { cid } = json(res)
    const stored = (await a.stat(cid)).metadata
    expect(Object.entries(stored)).toEqual([['__proto__', 'x'], ['constructor', 'c'], ['title', 'T']])
    const stat = json(await http(`${gateway.url}/api/v1/stat/${cid}`))
    expect(Object.hasOwn(stat.metadata, '__proto__')).toBe(true)
    expect(Object.entries(stat.metadata)).toEqual([['__proto__', 'x'], ['constructor', 'c'], ['title', 'T']])
    // without it, the same bytes are other content
    const plain = json(await http(`${gateway.url}/api/v1/publish?meta=constructor%3Dc&meta=title%3DT`, { method: 'POST', body: pseudoRandomBytes(100, 15) }))
    expect(plain.cid).not.toBe(cid)
    const twice = await http(`${gateway.url}/api/v1/publish?meta=__proto__%3Dx&meta=__proto__%3Dy`, { method: 'POST', body: pseudoRandomBytes(100, 15) })
    expect(twice.status).toBe(400)
  })

  it('refuses bad publish metadata with 400', async () => {
    const res = await http(`${gateway.url}/api/v1/publish?meta=novalue`, { method: 'POST', body: new Uint8Array([1]) })
    expect(res.status).toBe(400)
    expect(json(res).error.code).toBe('InvalidInputError')
    const key = await http(`${gateway.url}/api/v1/publish?meta=${encodeURIComponent('bad key=x')}`, { method: 'POST', body: new Uint8Array([1]) })
    expect(key.status).toBe(400)
    const media = await http(`${gateway.url}/api/v1/publish?mediaType=nonsense`, { method: 'POST', body: new Uint8Array([1]) })
    expect(media.status).toBe(400)
  })

  it('answers stat errors: 400 for a bad CID, 404 for unknown content', async () => {
    const bad = await http(`${gateway.url}/api/v1/stat/zzz`)
    expect(bad.status).toBe(400)
    const unknown = await http(`${gateway.url}/api/v1/stat/${cidForBlock(pseudoRandomBytes(10, 12)).toString()}`)
    expect(unknown.status).toBe(404)
    expect(json(unknown).error.code).toBe('NotFoundError')
  })

  it('lists the local catalog, a peer\'s, and all', async () => {
    const cid = await a.publish(pseudoRandomBytes(1000, 13), { name: 'cat.bin', metadata: { title: 'Catalogued' } })
    const local = json(await http(`${gateway.url}/api/v1/catalog`))
    expect(local.entries.find((e: any) => e.cid === cid)).toMatchObject({ size: 1000, name: 'cat.bin', metadata: { title: 'Catalogued' } })

    const ofPeer = json(await http(`${remote.url}/api/v1/catalog?peer=${a.peerId}`))
    expect(ofPeer.entries.map((e: any) => e.cid)).toContain(cid)

    const all = json(await http(`${remote.url}/api/v1/catalog?all=1`))
    expect(Array.isArray(all.local)).toBe(true)
    const fromA = all.peers.find((p: any) => p.peer === a.peerId)
    expect(fromA.entries.map((e: any) => e.cid)).toContain(cid)
  })

  it('answers 409 for a peer whose policy refuses its catalog, and lists the refusal under ?all=1', async () => {
    const closed = await cluster.node({ bootstrap: b.getMultiaddrs(), network: { catalogPolicy: 'none' } })
    const res = await http(`${remote.url}/api/v1/catalog?peer=${closed.peerId}`)
    expect(res.status).toBe(409)
    expect(json(res).error.code).toBe('RejectedError')
    const all = json(await http(`${remote.url}/api/v1/catalog?all=1`))
    const refused = all.peers.find((p: any) => p.peer === closed.peerId)
    expect(refused).toMatchObject({ entries: [], error: { code: 'RejectedError' } })
    const badPeer = await http(`${remote.url}/api/v1/catalog?peer=not-a-peer`)
    expect(badPeer.status).toBe(400)
    const badLimit = await http(`${remote.url}/api/v1/catalog?limit=0`)
    expect(badLimit.status).toBe(400)
  })

  it('answers 504 after PEER_CATALOG_TIMEOUT_MS when a lone node cannot look a peer up', async () => {
    // the core's own request timeout is longer than the gateway's bound
    const lone = await gateways.start(await cluster.node({ network: { requestTimeoutMs: 60_000 } }))
    const stranger = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    const res = await http(`${lone.url}/api/v1/catalog?peer=${stranger}`)
    expect(res.status).toBe(504)
    expect(json(res).error).toEqual({
      code: 'TimeoutError',
      message: `peer ${stranger} did not send its catalog within ${PEER_CATALOG_TIMEOUT_MS} ms`
    })
  }, PEER_CATALOG_TIMEOUT_MS + 15_000)

  it('pins, lists pins, unpins and collects garbage', async () => {
    const data = pseudoRandomBytes(CHUNK_SIZE + 5, 14)
    const cid = await a.publish(data)
    const pinned = await http(`${remote.url}/api/v1/pin/${cid}`, { method: 'POST' })
    expect(pinned.status).toBe(200)
    expect(json(pinned)).toMatchObject({ cid, kind: 'local', state: 'complete', size: data.byteLength })
    expect(await b.has(cid)).toBe(true)

    const pins = json(await http(`${remote.url}/api/v1/pins`))
    expect(pins.map((p: any) => p.cid)).toContain(cid)

    const unpinned = await http(`${remote.url}/api/v1/unpin/${cid}`, { method: 'POST' })
    expect(json(unpinned)).toEqual({ removed: true })
    const again = await http(`${remote.url}/api/v1/unpin/${cid}`, { method: 'POST' })
    expect(json(again)).toEqual({ removed: false })

    const gc = await http(`${remote.url}/api/v1/gc`, { method: 'POST' })
    expect(gc.status).toBe(200)
    expect(json(gc).blocksRemoved).toBeGreaterThanOrEqual(3)
    expect(await b.has(cid)).toBe(false)
  })

  it('tells the node\'s id and peers, and connects to a peer', async () => {
    const id = json(await http(`${gateway.url}/api/v1/id`))
    expect(id).toEqual({ peer: a.peerId, addrs: a.getMultiaddrs(), gateway: gateway.url })

    const peers = json(await http(`${gateway.url}/api/v1/peers`))
    expect(peers.map((p: any) => p.peer)).toContain(b.peerId)

    const c = await cluster.node()
    const connected = await http(`${gateway.url}/api/v1/connect?addr=${encodeURIComponent(c.getMultiaddrs()[0]!)}`, { method: 'POST' })
    expect(connected.status).toBe(200)
    expect(json(connected)).toEqual({ peer: c.peerId })
    expect(a.peers().map(p => p.peer)).toContain(c.peerId)

    const missing = await http(`${gateway.url}/api/v1/connect`, { method: 'POST' })
    expect(missing.status).toBe(400)
    const bad = await http(`${gateway.url}/api/v1/connect?addr=nonsense`, { method: 'POST' })
    expect(bad.status).toBe(400)

    // a peer nobody answers for (nothing listens on port 1): the gateway is fine, the peer is not
    const stranger = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const unreachable = await http(`${gateway.url}/api/v1/connect?addr=${encodeURIComponent(`/ip4/127.0.0.1/tcp/1/p2p/${stranger.toString()}`)}`, { method: 'POST' })
    expect(unreachable.status).toBe(502)
    expect(json(unreachable).error.code).toBe('RemoteError')
  })

  it('answers unknown routes and methods with a JSON 404', async () => {
    const cid = await a.publish(pseudoRandomBytes(10, 16))
    for (const [method, path] of [
      ['GET', '/api/v1/nothing'], ['GET', '/nothing'], ['GET', '/api/v1/publish'], ['PUT', '/api/v1/publish'],
      ['DELETE', `/dds/${cid}`], ['POST', `/dds/${cid}`], ['OPTIONS', '/api/v1/pins'], ['DELETE', `/dds/${cid}/more`]
    ]) {
      const res = await http(`${gateway.url}${path}`, { method })
      expect(res.status, `${method} ${path}`).toBe(404)
      expect(json(res).error.code).toBe('NotFoundError')
    }
    // a path under content that is no collection names nothing there: 400, saying so
    const below = await http(`${gateway.url}/dds/${cid}/more`)
    expect(below.status).toBe(400)
    expect(json(below).error.message).toContain('is not a collection')
  })

  it('answers malformed requests with a JSON 400, never a 500', async () => {
    const bad: Array<[string, string]> = [
      ['GET', '/dds/%E0%A4%A'],
      ['HEAD', '/dds/%ZZ'],
      ['GET', '/api/v1/stat/%ZZ'],
      ['POST', '/api/v1/pin/%E0%A4%A'],
      ['GET', `/dds/z${'a'.repeat(500)}`],
      ['GET', `/api/v1/stat/z${'a'.repeat(500)}`],
      ['GET', '/api/v1/catalog?limit=99999999999999999999'],
      ['GET', '/api/v1/catalog?limit=10001'],
      ['GET', '/api/v1/catalog?limit=-1'],
      ['GET', '/api/v1/catalog?limit=%ZZ'],
      ['GET', '/api/v1/catalog?peer=x&peer=y'],
      ['GET', '/api/v1/catalog?peer='],
      ['POST', '/api/v1/connect?addr=%ZZ']
    ]
    for (const [method, path] of bad) {
      const res = await http(`${gateway.url}${path}`, { method })
      expect(res.status, `${method} ${path}`).toBe(400)
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8')
      expect(res.headers['cache-control']).toBe('no-store')
      if (method !== 'HEAD') {
        expect(json(res).error.code, `${method} ${path}`).toBe('InvalidInputError')
      }
    }
    // requests Node's parser refuses never reach a route; they get the same body
    for (const request of [
      'GET /dds/\x7f HTTP/1.1\r\nHost: x\r\n\r\n',
      'POST /api/v1/publish HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n',
      'NONSENSE\r\n\r\n'
    ]) {
      const answer = await rawHttp(gateway.port, request)
      expect(answer, JSON.stringify(request)).toMatch(/^HTTP\/1\.1 400 /)
      expect(answer).toMatch(/\r\nContent-Type: application\/json; charset=utf-8\r\n/)
      expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)).error.code).toBe('InvalidInputError')
    }
    expect((await http(`${gateway.url}/health`)).status).toBe(200)
  })

  it('takes repeated query parameters (the last one counts), HEAD on the API, and CIDs in base32', async () => {
    const cid = await a.publish(pseudoRandomBytes(10, 17), { name: 'b32.bin' })
    const limited = await http(`${gateway.url}/api/v1/catalog?limit=5&limit=1`)
    expect(limited.status).toBe(200)
    expect(json(limited).entries).toHaveLength(1)
    const most = await http(`${gateway.url}/api/v1/catalog?limit=10000`)
    expect(most.status).toBe(200)
    const notAll = await http(`${gateway.url}/api/v1/catalog?all=1&all=0`)
    expect(Object.keys(json(notAll))).toEqual(['entries'])

    const head = await http(`${gateway.url}/api/v1/pins`, { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(head.headers['content-type']).toBe('application/json; charset=utf-8')
    expect(head.body.byteLength).toBe(0)

    const b32 = parseCid(cid).toString(base32)
    const stat = await http(`${gateway.url}/api/v1/stat/${b32}`)
    expect(stat.status).toBe(200)
    expect(json(stat)).toMatchObject({ cid, name: 'b32.bin' })
    const pinned = await http(`${gateway.url}/api/v1/pin/${b32}`, { method: 'POST' })
    expect(json(pinned)).toMatchObject({ cid })
  })
})

describe('the write-API guard', () => {
  const cluster = new Cluster()
  const gateways = new Gateways()
  let node: Dds
  let gateway: Gateway

  beforeAll(async () => {
    node = await cluster.node()
    gateway = await gateways.start(node, { apiToken: 'secret-token' })
  })
  afterAll(async () => {
    await gateways.close()
    await cluster.stop()
  })

  it('refuses a write carrying a foreign Origin, even from loopback with the token', async () => {
    const refused: Array<Record<string, string>> = [
      { Origin: 'http://evil.example' },
      { Origin: 'null' },
      { Origin: `http://127.0.0.1:${gateway.port + 1}` },
      { Origin: 'http://evil.example', Authorization: 'Bearer secret-token' }
    ]
    for (const headers of refused) {
      const res = await http(`${gateway.url}/api/v1/publish`, { method: 'POST', headers, body: new Uint8Array([1]) })
      expect(res.status, JSON.stringify(headers)).toBe(403)
      expect(json(res).error.code).toBe('ForbiddenError')
    }
    const gc = await http(`${gateway.url}/api/v1/gc`, { method: 'POST', headers: { Origin: 'https://example.org' } })
    expect(gc.status).toBe(403)
    expect((await node.pins()).length).toBe(0)
  })

  it('lets a write from the gateway\'s own origin, or with no Origin, through', async () => {
    for (const origin of [gateway.url, `http://localhost:${gateway.port}`, undefined]) {
      const res = await http(`${gateway.url}/api/v1/publish`, { method: 'POST', headers: origin != null ? { Origin: origin } : {}, body: new Uint8Array([2]) })
      expect(res.status, String(origin)).toBe(200)
    }
  })

  it('leaves reads open to any origin', async () => {
    const res = await http(`${gateway.url}/api/v1/pins`, { headers: { Origin: 'http://evil.example' } })
    expect(res.status).toBe(200)
    expect(res.headers['access-control-allow-origin']).toBeUndefined()
  })

  it('takes uploads up to maxUploadBytes and refuses larger ones with 413', async () => {
    const limited = await gateways.start(node, { maxUploadBytes: 1000 })
    const ok = await http(`${limited.url}/api/v1/publish`, { method: 'POST', body: pseudoRandomBytes(1000, 20) })
    expect(ok.status).toBe(200)
    const declared = await http(`${limited.url}/api/v1/publish`, { method: 'POST', body: pseudoRandomBytes(1001, 21) })
    expect(declared.status).toBe(413)
    expect(json(declared).error.code).toBe('PayloadTooLargeError')
    const streamed = await http(`${limited.url}/api/v1/publish`, { method: 'POST', headers: { 'Transfer-Encoding': 'chunked' }, body: slices(pseudoRandomBytes(5000, 22), 600) })
    expect(streamed.status).toBe(413)
  })

  it('answers 413 before the upload has all been sent', async () => {
    const limited = await gateways.start(node, { maxUploadBytes: 1000 })
    const pinsBefore = (await node.pins()).length
    // streamed: the answer comes while the client has not ended its body
    const streamed = await unfinishedUpload(`${limited.url}/api/v1/publish`, { 'Transfer-Encoding': 'chunked' }, pseudoRandomBytes(5000, 23))
    expect(streamed.status).toBe(413)
    expect(json(streamed).error.code).toBe('PayloadTooLargeError')
    // declared: refused from the headers, before a byte of the body
    const declared = await unfinishedUpload(`${limited.url}/api/v1/publish`, { 'Content-Length': String(1024 ** 4) }, new Uint8Array(0))
    expect(declared.status).toBe(413)
    expect((await node.pins()).length).toBe(pinsBefore)
  })

  it('refuses to start on a port in use, naming EADDRINUSE', async () => {
    await expect(startGateway(node, { host: '127.0.0.1', port: gateway.port })).rejects.toThrow(/EADDRINUSE/)
  })
})

/**
 * Sends a request's headers and `part` of its body, never ending it, and
 * resolves with the answer the server gives anyway; then hangs up.
 */
async function unfinishedUpload (url: string, headers: Record<string, string>, part: Uint8Array): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers, agent: false }, (res: IncomingMessage) => {
      const parts: Buffer[] = []
      res.on('data', (p: Buffer) => parts.push(p))
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) })
        req.destroy()
      })
    })
    // the server may close the connection while this side still writes
    req.on('error', (err) => { if (!req.destroyed) reject(err) })
    req.flushHeaders()
    if (part.byteLength > 0) {
      req.write(part)
    }
  })
}

describe('an upload whose client goes away', () => {
  const cluster = new Cluster()
  const gateways = new Gateways()
  let node: Dds
  let watched: ReturnType<typeof watchPublishes>
  let gateway: Gateway

  beforeAll(async () => {
    node = await cluster.node()
    watched = watchPublishes(node)
    gateway = await gateways.start(watched.node)
  })
  afterAll(async () => {
    await gateways.close()
    await cluster.stop()
  })

  it('is read as it arrives; hanging up mid-way aborts the publish, pins nothing, and the gateway serves on', async () => {
    const req = httpRequest(`${gateway.url}/api/v1/publish?name=half.bin`, { method: 'POST', headers: { 'Transfer-Encoding': 'chunked' }, agent: false })
    req.on('error', () => {})
    req.write(pseudoRandomBytes(3 * CHUNK_SIZE, 40))
    // publish reads the body while the client has not finished it: nothing buffers it whole
    await waitForCall(watched.publishes, 1)
    const upload = watched.publishes[0]!
    await upload.reading
    req.destroy()
    await expect(upload.result).rejects.toThrow()
    expect(upload.ended()).toBe(false)
    expect(await node.pins()).toEqual([])
    expect(await node.catalog()).toEqual([])

    const data = pseudoRandomBytes(CHUNK_SIZE + 1, 41)
    const res = await http(`${gateway.url}/api/v1/publish`, { method: 'POST', body: data })
    expect(res.status).toBe(200)
    expect((await node.pins()).map(p => p.cid)).toEqual([json(res).cid])
  })
})

async function waitForCall (calls: unknown[], count: number): Promise<void> {
  while (calls.length < count) {
    await new Promise(resolve => setImmediate(resolve))
  }
}

describe('/health, /metrics and the / page', () => {
  const cluster = new Cluster()
  const gateways = new Gateways()
  let a: Dds
  let b: Dds
  let gateway: Gateway

  beforeAll(async () => {
    a = await cluster.node()
    b = await cluster.node({ bootstrap: a.getMultiaddrs() })
    gateway = await gateways.start(b)
  })
  afterAll(async () => {
    await gateways.close()
    await cluster.stop()
  })

  it('/health tells the peer id and the connected peers', async () => {
    const res = await http(`${gateway.url}/health`)
    expect(res.status).toBe(200)
    expect(json(res)).toEqual({ ok: true, peer: b.peerId, peers: 1 })
  })

  it('/metrics counts a retrieval through the gateway', async () => {
    const data = pseudoRandomBytes(3 * CHUNK_SIZE, 30)
    const cid = await a.publish(data)
    const got = await http(`${gateway.url}/dds/${cid}`)
    expect(equalBytes(got.body, data)).toBe(true)
    const res = await http(`${gateway.url}/metrics`)
    expect(res.status).toBe(200)
    expect(res.headers['content-type']).toMatch(/^text\/plain/)
    const text = res.body.toString('utf8')
    for (const name of [
      'dds_chunks_served_total', 'dds_bytes_served_total', 'dds_chunks_fetched_total', 'dds_bytes_fetched_total',
      'dds_retrievals_total', 'dds_providers_found_total', 'dds_peers', 'dds_store_blocks', 'dds_store_bytes',
      'dds_pins', 'dds_replication_below_target', 'process_cpu_user_seconds_total', 'dds_gateway_http_requests_total'
    ]) {
      expect(text, name).toMatch(new RegExp(`^# TYPE ${name} `, 'm'))
    }
    const value = (line: string): number => Number(new RegExp(`^${line.replace(/[{}"]/g, c => `\\${c}`)} (\\S+)$`, 'm').exec(text)?.[1])
    expect(value('dds_chunks_fetched_total')).toBeGreaterThanOrEqual(3)
    expect(value('dds_bytes_fetched_total')).toBeGreaterThanOrEqual(data.byteLength)
    expect(value('dds_retrievals_total{outcome="ok"}')).toBeGreaterThanOrEqual(1)
    expect(value('dds_peers')).toBe(1)
    expect(value('dds_pins{kind="local",state="complete"}')).toBe(0)
    expect(value('dds_gateway_http_requests_total{method="GET",route="/dds/:cid",status="200"}')).toBe(1)
    const served = Number(/^dds_chunks_served_total (\S+)$/m.exec((await http(`${gateway.url}/metrics`)).body.toString())?.[1])
    expect(served).toBe(b.stats().chunksServed)
    // no limits on this node: all zero
    expect(value('dds_bandwidth_limit_bytes_per_second{limit="upload"}')).toBe(0)
    expect(value('dds_bandwidth_bytes_total{direction="download"}')).toBe(0)
  })

  it('/ lists local and peers\' content with escaped metadata and an audio player', async () => {
    const title = '<script>alert("x")</script> & "Friends"'
    const track = await a.publish(pseudoRandomBytes(5000, 31), { name: 'track.wav', mediaType: 'audio/wav', metadata: { title, artist: "O'Brien <b>" } })
    const own = await b.publish(pseudoRandomBytes(100, 32), { name: 'notes.txt', mediaType: 'text/plain' })
    const res = await http(`${gateway.url}/`)
    expect(res.status).toBe(200)
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(res.headers['content-security-policy']).toMatch(/default-src 'none'/)
    const html = res.body.toString('utf8')
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;Friends&quot;')
    expect(html).toContain('O&#39;Brien &lt;b&gt;')
    expect(html).not.toContain('<script>')
    expect(html).not.toContain('<b>')
    expect(html).toContain(`<audio controls preload="none" src="/dds/${track}"></audio>`)
    expect(html).toContain(`href="/dds/${track}?download=1"`)
    expect(html).toContain(`href="/dds/${own}?download=1"`)
    expect(html).not.toContain(`src="/dds/${own}"`)
    expect(html).toContain('notes.txt')
  })
})

describe('/metrics with bandwidth limits', () => {
  const cluster = new Cluster()
  const gateways = new Gateways()
  afterAll(async () => {
    await gateways.close()
    await cluster.stop()
  })

  it('/metrics reports the bandwidth limits and the traffic through them', async () => {
    const a = await cluster.node()
    const limited = await cluster.node({ bootstrap: a.getMultiaddrs(), bandwidth: { download: 1024 * 1024, uploadPerPeer: 512 * 1024 } })
    const limitedGateway = await gateways.start(limited)
    const data = pseudoRandomBytes(6 * CHUNK_SIZE, 33)
    const cid = await a.publish(data)
    expect(equalBytes((await http(`${limitedGateway.url}/dds/${cid}`)).body, data)).toBe(true)
    const text = (await http(`${limitedGateway.url}/metrics`)).body.toString('utf8')
    for (const name of ['dds_bandwidth_limit_bytes_per_second', 'dds_bandwidth_bytes_total', 'dds_bandwidth_waits_total', 'dds_bandwidth_wait_seconds_total', 'dds_upload_pacing_waits_total', 'dds_upload_pacing_wait_seconds_total']) {
      expect(text, name).toMatch(new RegExp(`^# TYPE ${name} `, 'm'))
    }
    const value = (line: string): number => Number(new RegExp(`^${line.replace(/[{}"]/g, c => `\\${c}`)} (\\S+)$`, 'm').exec(text)?.[1])
    expect(value('dds_bandwidth_limit_bytes_per_second{limit="download"}')).toBe(1024 * 1024)
    expect(value('dds_bandwidth_limit_bytes_per_second{limit="upload_per_peer"}')).toBe(512 * 1024)
    expect(value('dds_bandwidth_limit_bytes_per_second{limit="upload"}')).toBe(0)
    const stats = limited.stats().bandwidth
    expect(value('dds_bandwidth_bytes_total{direction="download"}')).toBe(stats.download.bytes)
    expect(stats.download.bytes).toBeGreaterThanOrEqual(data.byteLength)
    expect(value('dds_bandwidth_waits_total{direction="download"}')).toBeGreaterThan(0)
    expect(value('dds_bandwidth_wait_seconds_total{direction="download"}')).toBeGreaterThan(0)
    // no upload limit: the pacing of competing peers is on, and with one peer it held nothing back
    expect(stats.pacing).toEqual({ waits: 0, waitMs: 0 })
    expect(value('dds_upload_pacing_waits_total')).toBe(0)
  })
})
