/**
 * GET and HEAD /dds/<cid>: whole content, every form of byte range, the
 * caching headers, errors, content that lives on another node, and a client
 * that hangs up mid-download.
 */
import { request as httpRequest } from 'node:http'
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { base32 } from 'multiformats/bases/base32'
import { InvalidInputError, cidForBlock, parseCid, type Dds } from '../../src/index.js'
import type { Gateway } from '../../src/gateway/index.js'
import { Gateways, http, json } from './helpers.js'
import { CHUNK_SIZE, equalBytes, pseudoRandomBytes } from '../utils/content.js'
import { Cluster } from '../utils/cluster.js'
import { waitFor } from '../utils/wait.js'

/** 1 MiB and an odd number of bytes: four full chunks and a short fifth. */
const SIZE = 1024 * 1024 + 777

describe('GET /dds/<cid> on the publishing node', () => {
  const cluster = new Cluster()
  const gateways = new Gateways()
  const data = pseudoRandomBytes(SIZE, 5)
  let node: Dds
  let gateway: Gateway
  let cid: string

  beforeAll(async () => {
    node = await cluster.node()
    gateway = await gateways.start(node, { notFoundTimeoutMs: 1_000 })
    cid = await node.publish(data)
  })
  afterAll(async () => {
    await gateways.close()
    await cluster.stop()
  })

  it('answers the whole content with its headers', async () => {
    const res = await http(`${gateway.url}/dds/${cid}`)
    expect(res.status).toBe(200)
    expect(res.body.byteLength).toBe(SIZE)
    expect(equalBytes(res.body, data)).toBe(true)
    expect(res.headers['content-length']).toBe(String(SIZE))
    expect(res.headers['content-type']).toBe('application/octet-stream')
    expect(res.headers.etag).toBe(`"${cid}"`)
    expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable')
    expect(res.headers['accept-ranges']).toBe('bytes')
    expect(res.headers['x-content-type-options']).toBe('nosniff')
    expect(res.headers['content-security-policy']).toBe('sandbox')
    expect(res.headers['content-disposition']).toBeUndefined()
  })

  it('answers HEAD with the same headers and no body', async () => {
    const res = await http(`${gateway.url}/dds/${cid}`, { method: 'HEAD' })
    expect(res.status).toBe(200)
    expect(res.body.byteLength).toBe(0)
    expect(res.headers['content-length']).toBe(String(SIZE))
    expect(res.headers.etag).toBe(`"${cid}"`)
    expect(res.headers['accept-ranges']).toBe('bytes')
  })

  it.each([
    ['the first byte', 'bytes=0-0', 0, 0],
    ['the last byte', `bytes=${SIZE - 1}-${SIZE - 1}`, SIZE - 1, SIZE - 1],
    ['a middle span (a-b)', 'bytes=1000-99999', 1000, 99999],
    ['from an offset to the end (a-)', `bytes=${3 * CHUNK_SIZE + 5}-`, 3 * CHUNK_SIZE + 5, SIZE - 1],
    ['a suffix (-n)', 'bytes=-500', SIZE - 500, SIZE - 1],
    ['a suffix longer than the content', `bytes=-${SIZE + 10}`, 0, SIZE - 1],
    ['exactly the second chunk', `bytes=${CHUNK_SIZE}-${2 * CHUNK_SIZE - 1}`, CHUNK_SIZE, 2 * CHUNK_SIZE - 1],
    ['the last byte of a chunk', `bytes=${CHUNK_SIZE - 1}-${CHUNK_SIZE - 1}`, CHUNK_SIZE - 1, CHUNK_SIZE - 1],
    ['the first byte of a chunk', `bytes=${CHUNK_SIZE}-${CHUNK_SIZE}`, CHUNK_SIZE, CHUNK_SIZE],
    ['across two chunks', `bytes=${CHUNK_SIZE - 10}-${CHUNK_SIZE + 9}`, CHUNK_SIZE - 10, CHUNK_SIZE + 9],
    ['the short last chunk', `bytes=${4 * CHUNK_SIZE}-`, 4 * CHUNK_SIZE, SIZE - 1],
    ['an end past the content, cut to its end', `bytes=${SIZE - 10}-${SIZE + 1000}`, SIZE - 10, SIZE - 1]
  ])('answers 206 for %s', async (_label, range, first, last) => {
    const res = await http(`${gateway.url}/dds/${cid}`, { headers: { Range: range } })
    expect(res.status).toBe(206)
    expect(res.headers['content-range']).toBe(`bytes ${first}-${last}/${SIZE}`)
    expect(res.headers['content-length']).toBe(String(last - first + 1))
    expect(equalBytes(res.body, data.subarray(first, last + 1))).toBe(true)
  })

  it('answers HEAD with a Range with the partial headers', async () => {
    const res = await http(`${gateway.url}/dds/${cid}`, { method: 'HEAD', headers: { Range: 'bytes=10-19' } })
    expect(res.status).toBe(206)
    expect(res.headers['content-range']).toBe(`bytes 10-19/${SIZE}`)
    expect(res.headers['content-length']).toBe('10')
    expect(res.body.byteLength).toBe(0)
  })

  it.each([
    ['a start at the end', `bytes=${SIZE}-`],
    ['a start past the end', `bytes=${SIZE + 100}-${SIZE + 200}`],
    ['an empty suffix', 'bytes=-0']
  ])('answers 416 with Content-Range bytes */size for %s', async (_label, range) => {
    const res = await http(`${gateway.url}/dds/${cid}`, { headers: { Range: range } })
    expect(res.status).toBe(416)
    expect(res.headers['content-range']).toBe(`bytes */${SIZE}`)
    expect(res.headers['cache-control']).toBe('no-store')
    expect(json(res).error.code).toBe('RangeNotSatisfiableError')
  })

  it.each([
    ['no = sign', 'bytes'],
    ['letters', 'bytes=abc'],
    ['no bounds', 'bytes=-'],
    ['a negative start', 'bytes=--5'],
    ['a second dash', 'bytes=1-2-3']
  ])('answers 400 for a malformed Range (%s)', async (_label, range) => {
    const res = await http(`${gateway.url}/dds/${cid}`, { headers: { Range: range } })
    expect(res.status).toBe(400)
    expect(json(res).error.code).toBe('InvalidInputError')
  })

  it('answers several ranges with the whole content', async () => {
    const res = await http(`${gateway.url}/dds/${cid}`, { headers: { Range: 'bytes=0-9,100-109' } })
    expect(res.status).toBe(200)
    expect(equalBytes(res.body, data)).toBe(true)
  })

  it('answers 304 to If-None-Match with its ETag, also when the URL names the CID in base32', async () => {
    const res = await http(`${gateway.url}/dds/${cid}`, { headers: { 'If-None-Match': `"${cid}"` } })
    expect(res.status).toBe(304)
    expect(res.body.byteLength).toBe(0)
    expect(res.headers.etag).toBe(`"${cid}"`)
    const b32 = parseCid(cid).toString(base32)
    const other = await http(`${gateway.url}/dds/${b32}`, { headers: { 'If-None-Match': `"other", "${cid}"` } })
    expect(other.status).toBe(304)
    const miss = await http(`${gateway.url}/dds/${cid}`, { method: 'HEAD', headers: { 'If-None-Match': '"other"' } })
    expect(miss.status).toBe(200)
  })

  it.each([
    ['garbage', 'not-a-cid'],
    ['a CIDv0', 'QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG'],
    ['a dag-pb CIDv1', 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi']
  ])('answers 400 for a bad CID (%s)', async (_label, text) => {
    const res = await http(`${gateway.url}/dds/${text}`)
    expect(res.status).toBe(400)
    const body = json(res)
    expect(body.error.code).toBe('InvalidInputError')
    expect(typeof body.error.message).toBe('string')
  })

  it('answers 404 for content nobody has, after notFoundTimeoutMs', async () => {
    const unknown = cidForBlock(pseudoRandomBytes(1000, 999)).toString()
    const res = await http(`${gateway.url}/dds/${unknown}`)
    expect(res.status).toBe(404)
    expect(json(res).error.code).toBe('NotFoundError')
    // content missing now may be found later: the answer must not be cached
    expect(res.headers['cache-control']).toBe('no-store')
    expect(res.headers.etag).toBeUndefined()
  })

  it('answers empty content with no body', async () => {
    const empty = await node.publish(new Uint8Array(0))
    const res = await http(`${gateway.url}/dds/${empty}`)
    expect(res.status).toBe(200)
    expect(res.headers['content-length']).toBe('0')
    expect(res.body.byteLength).toBe(0)
    const ranged = await http(`${gateway.url}/dds/${empty}`, { headers: { Range: 'bytes=0-' } })
    expect(ranged.status).toBe(416)
    expect(ranged.headers['content-range']).toBe('bytes */0')
  })

  it('gives the media type and, with ?download=1, the name as an attachment', async () => {
    const named = await node.publish(pseudoRandomBytes(3000, 6), { name: 'Süß (live).mp3', mediaType: 'audio/mpeg' })
    const res = await http(`${gateway.url}/dds/${named}?download=1`)
    expect(res.status).toBe(200)
    expect(res.headers['content-type']).toBe('audio/mpeg')
    expect(res.headers['content-disposition']).toBe("attachment; filename*=UTF-8''S%C3%BC%C3%9F%20%28live%29.mp3")
    const inline = await http(`${gateway.url}/dds/${named}`)
    expect(inline.headers['content-disposition']).toBeUndefined()
  })

  it('keeps a name that looks like header syntax inside filename*', async () => {
    const named = await node.publish(pseudoRandomBytes(10, 9), { name: 'a"; filename=evil.html; x=\u2028y' })
    const res = await http(`${gateway.url}/dds/${named}?download=1`)
    expect(res.status).toBe(200)
    expect(res.headers['content-disposition']).toBe("attachment; filename*=UTF-8''a%22%3B%20filename%3Devil.html%3B%20x%3D%E2%80%A8y")
  })

  it('refuses at publish a media type that could not be a header value, and serves a plain one as given', async () => {
    const bytes = pseudoRandomBytes(500, 10)
    for (const mediaType of ['text/plain; title="日本"', 'text/plain; title="é"']) {
      await expect(node.publish(bytes, { mediaType }), mediaType).rejects.toThrow(InvalidInputError)
      const res = await http(`${gateway.url}/api/v1/publish?mediaType=${encodeURIComponent(mediaType)}`, { method: 'POST', body: bytes })
      expect(res.status, mediaType).toBe(400)
    }
    const plain = await node.publish(bytes, { mediaType: 'text/plain; charset=utf-8' })
    expect((await http(`${gateway.url}/dds/${plain}`)).headers['content-type']).toBe('text/plain; charset=utf-8')
  })
})

describe('GET /dds/<cid> through a second node', () => {
  const cluster = new Cluster()
  const gateways = new Gateways()
  const data = pseudoRandomBytes(SIZE, 7)
  let a: Dds
  let b: Dds
  let gateway: Gateway
  let cid: string

  beforeAll(async () => {
    a = await cluster.node()
    b = await cluster.node({ bootstrap: a.getMultiaddrs() })
    gateway = await gateways.start(b)
    cid = await a.publish(data)
  })
  afterAll(async () => {
    await gateways.close()
    await cluster.stop()
  })

  it('serves content published on another node, verified', async () => {
    expect(await b.has(cid)).toBe(false)
    const res = await http(`${gateway.url}/dds/${cid}`)
    expect(res.status).toBe(200)
    expect(res.headers['content-length']).toBe(String(SIZE))
    expect(equalBytes(res.body, data)).toBe(true)
  })

  it('fetches only the chunks a range covers', async () => {
    const before = b.stats().chunksFetched
    const res = await http(`${gateway.url}/dds/${cid}`, { headers: { Range: `bytes=${2 * CHUNK_SIZE - 3}-${2 * CHUNK_SIZE + 2}` } })
    expect(res.status).toBe(206)
    expect(equalBytes(res.body, data.subarray(2 * CHUNK_SIZE - 3, 2 * CHUNK_SIZE + 3))).toBe(true)
    expect(b.stats().chunksFetched - before).toBe(2)
  })

  it('once the only holder is gone, answers HEAD from what it kept of the manifest and GET with a 404', async () => {
    await cluster.stopNode(a)
    const head = await http(`${gateway.url}/dds/${cid}`, { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(head.headers['content-length']).toBe(String(SIZE))
    // nothing of the body can be fetched: an error status, not a truncated 200
    const get = await http(`${gateway.url}/dds/${cid}`, { headers: { Range: 'bytes=0-99' } })
    expect(get.status).toBe(404)
    expect(json(get).error.code).toBe('NotFoundError')
  })
})

describe('a client that hangs up mid-download', () => {
  const cluster = new Cluster()
  const gateways = new Gateways()
  /** 32 MiB: 128 chunks, far more than the window of 4 the retrieving node keeps ahead. */
  const size = 32 * 1024 * 1024
  const chunks = size / CHUNK_SIZE
  let a: Dds
  let b: Dds
  let gateway: Gateway
  let cid: string

  beforeAll(async () => {
    a = await cluster.node()
    b = await cluster.node({ bootstrap: a.getMultiaddrs(), retrieval: { window: 4 } })
    gateway = await gateways.start(b)
    cid = await a.publish(pseudoRandomBytes(size, 8))
  })
  afterAll(async () => {
    await gateways.close()
    await cluster.stop()
  })

  it('aborts the retrieval: it ends as aborted and stops fetching chunks', async () => {
    const abortedBefore = b.stats().retrievals.aborted
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest(`${gateway.url}/dds/${cid}`, { agent: false }, (res) => {
        expect(res.statusCode).toBe(200)
        res.once('data', () => {
          // stop reading, then hang up with most of the content not sent
          res.pause()
          req.destroy()
          resolve()
        })
      })
      req.on('error', (err) => { if (!req.destroyed) reject(err) })
      req.end()
    })
    await waitFor(() => b.stats().retrievals.aborted > abortedBefore, 'the retrieval to end as aborted')
    const fetched = b.stats().chunksFetched
    expect(fetched).toBeLessThan(chunks)
    // the gateway still serves
    const health = await http(`${gateway.url}/health`)
    expect(health.status).toBe(200)
    expect(b.stats().chunksFetched).toBeLessThan(chunks)
  })
})
