/**
 * The trustless gateway, /ipfs/<cid>: one raw block and a CAR of the
 * content, asked for with ?format= or Accept, every response checked by
 * parsing it with @ipld/car and hashing each block; its headers, errors,
 * HEAD, the probe CID, and the client limits that apply to it as to any
 * content response. Also POST /api/v1/import.
 */
import { connect, type Socket } from 'node:net'
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { CarReader } from '@ipld/car'
import { base32 } from 'multiformats/bases/base32'
import { blockMatchesCid, parseCid, type Dds } from '../../src/index.js'
import type { Gateway } from '../../src/gateway/index.js'
import { Gateways, http, json } from './helpers.js'
import { CHUNK_SIZE, chunkCid, chunkCount, chunkOf, collect, concat, equalBytes, pseudoRandomBytes } from '../utils/content.js'
import { Cluster } from '../utils/cluster.js'
import { waitFor } from '../utils/wait.js'
import { carSections, writeCar } from '../car/helpers.js'

const SIZE = 5 * CHUNK_SIZE + 99

/** Parses a CAR with @ipld/car and checks every block against its CID; returns its roots and blocks. */
async function readCar (body: Uint8Array): Promise<{ roots: string[], cids: string[], blocks: Uint8Array[] }> {
  const reader = await CarReader.fromBytes(body)
  expect(reader.version).toBe(1)
  const cids: string[] = []
  const blocks: Uint8Array[] = []
  for await (const block of reader.blocks()) {
    expect(blockMatchesCid(parseCid(block.cid), block.bytes)).toBe(true)
    cids.push(block.cid.toString())
    blocks.push(block.bytes)
  }
  return { roots: (await reader.getRoots()).map(String), cids, blocks }
}

describe('GET /ipfs/<cid>', () => {
  const cluster = new Cluster()
  const gateways = new Gateways()
  const data = pseudoRandomBytes(SIZE, 41)
  let node: Dds
  let gateway: Gateway
  let cid: string
  let manifest: Uint8Array

  beforeAll(async () => {
    node = await cluster.node()
    gateway = await gateways.start(node)
    cid = await node.publish(data)
    manifest = (await node.storage.get(parseCid(cid)))!
  })
  afterAll(async () => {
    await gateways.close()
    await cluster.stop()
  })

  it('answers ?format=raw with the one block, its hash matching the CID', async () => {
    const chunk = chunkCid(data, 1).toString()
    const res = await http(`${gateway.url}/ipfs/${chunk}?format=raw`)
    expect(res.status).toBe(200)
    expect(res.headers['content-type']).toBe('application/vnd.ipld.raw')
    expect(res.headers['content-length']).toBe(String(CHUNK_SIZE))
    expect(res.headers['x-content-type-options']).toBe('nosniff')
    expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable')
    expect(res.headers['content-disposition']).toMatch(/^attachment; filename=".+\.bin"$/)
    expect(res.headers.etag).toMatch(/^".+\.raw"$/)
    expect(res.headers['content-location']).toBeUndefined()
    expect(blockMatchesCid(parseCid(chunk), res.body)).toBe(true)
    expect(equalBytes(res.body, chunkOf(data, 1))).toBe(true)
    // the manifest is a block like any other
    const root = await http(`${gateway.url}/ipfs/${cid}?format=raw`)
    expect(equalBytes(root.body, manifest)).toBe(true)
  })

  it('answers Accept: application/vnd.ipld.raw the same, naming the format in Content-Location', async () => {
    const res = await http(`${gateway.url}/ipfs/${cid}`, { headers: { Accept: 'application/vnd.ipld.raw' } })
    expect(res.status).toBe(200)
    expect(res.headers['content-type']).toBe('application/vnd.ipld.raw')
    expect(res.headers['content-location']).toBe(`/ipfs/${cid}?format=raw`)
    expect(res.headers.vary).toMatch(/Accept/)
    expect(equalBytes(res.body, manifest)).toBe(true)
  })

  it('answers ?format=car with every block of the content, depth first, each matching its CID', async () => {
    const res = await http(`${gateway.url}/ipfs/${cid}?format=car`)
    expect(res.status).toBe(200)
    expect(res.headers['content-type']).toBe('application/vnd.ipld.car; version=1; order=dfs; dups=n')
    expect(res.headers['x-content-type-options']).toBe('nosniff')
    expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable')
    expect(res.headers['content-disposition']).toMatch(/^attachment; filename=".+\.car"$/)
    expect(res.headers.etag).toMatch(/^".+\.car\.all\.dups-n"$/)
    const car = await readCar(res.body)
    expect(car.roots).toEqual([parseCid(cid).toString()])
    expect(car.cids).toEqual([parseCid(cid).toString(), ...Array.from({ length: chunkCount(data) }, (_, i) => chunkCid(data, i).toString())])
    expect(equalBytes(concat(car.blocks.slice(1)), data)).toBe(true)
    // the body is what the library exports
    expect(equalBytes(res.body, await collect(node.exportCar(cid)))).toBe(true)
  })

  it('negotiates the CAR from Accept (q values, parameters) and takes ?format over Accept', async () => {
    const res = await http(`${gateway.url}/ipfs/${cid}`, { headers: { Accept: 'text/html, application/vnd.ipld.raw;q=0.5, application/vnd.ipld.car;version=1;order=dfs;dups=y;q=0.9' } })
    expect(res.status).toBe(200)
    expect(res.headers['content-type']).toBe('application/vnd.ipld.car; version=1; order=dfs; dups=y')
    expect(res.headers['content-location']).toBe(`/ipfs/${cid}?format=car`)
    expect((await readCar(res.body)).roots).toEqual([parseCid(cid).toString()])
    const both = await http(`${gateway.url}/ipfs/${cid}?format=raw`, { headers: { Accept: 'application/vnd.ipld.car' } })
    expect(both.headers['content-type']).toBe('application/vnd.ipld.raw')
  })

  it('writes a repeated chunk once by default and every time with dups=y', async () => {
    const zeros = new Uint8Array(3 * CHUNK_SIZE)
    const zerosCid = await node.publish(zeros)
    const once = await readCar((await http(`${gateway.url}/ipfs/${zerosCid}?format=car`)).body)
    expect(once.cids).toHaveLength(2)
    const every = await http(`${gateway.url}/ipfs/${zerosCid}?format=car&car-dups=y`)
    expect(every.headers['content-type']).toBe('application/vnd.ipld.car; version=1; order=dfs; dups=y')
    expect((await readCar(every.body)).cids).toHaveLength(4)
  })

  it('answers dag-scope=block with the manifest alone, and a chunk\'s CID with a CAR of that block', async () => {
    const scoped = await readCar((await http(`${gateway.url}/ipfs/${cid}?format=car&dag-scope=block`)).body)
    expect(scoped.cids).toEqual([parseCid(cid).toString()])
    const chunk = chunkCid(data, 4).toString()
    const single = await readCar((await http(`${gateway.url}/ipfs/${chunk}?format=car`)).body)
    expect(single.roots).toEqual([chunk])
    expect(single.cids).toEqual([chunk])
    expect(equalBytes(single.blocks[0]!, chunkOf(data, 4))).toBe(true)
  })

  it('takes a base32 CID', async () => {
    const b32 = parseCid(cid).toString(base32)
    const res = await http(`${gateway.url}/ipfs/${b32}?format=car`)
    expect(res.status).toBe(200)
    expect(res.headers['x-ipfs-path']).toBe(`/ipfs/${b32}`)
    expect((await readCar(res.body)).roots).toEqual([parseCid(cid).toString()])
  })

  it('answers HEAD with the headers and no body', async () => {
    for (const format of ['raw', 'car']) {
      const res = await http(`${gateway.url}/ipfs/${cid}?format=${format}`, { method: 'HEAD' })
      expect(res.status).toBe(200)
      expect(res.body.byteLength).toBe(0)
      expect(res.headers['content-type']).toMatch(format === 'raw' ? /^application\/vnd\.ipld\.raw$/ : /^application\/vnd\.ipld\.car; version=1/)
      expect(res.headers.etag).toBeDefined()
    }
    const raw = await http(`${gateway.url}/ipfs/${cid}?format=raw`, { method: 'HEAD' })
    expect(raw.headers['content-length']).toBe(String(manifest.byteLength))
  })

  it('answers If-None-Match naming the ETag with 304', async () => {
    const first = await http(`${gateway.url}/ipfs/${cid}?format=car`)
    const again = await http(`${gateway.url}/ipfs/${cid}?format=car`, { headers: { 'If-None-Match': first.headers.etag! } })
    expect(again.status).toBe(304)
    expect(again.body.byteLength).toBe(0)
  })

  it('answers 404 for a block or content this node does not hold, for GET and HEAD', async () => {
    const absent = chunkCid(pseudoRandomBytes(100, 42), 0).toString()
    for (const format of ['raw', 'car']) {
      const res = await http(`${gateway.url}/ipfs/${absent}?format=${format}`)
      expect(res.status).toBe(404)
      expect(json(res).error.code).toBe('NotFoundError')
      expect(res.headers.etag).toBeUndefined()
      expect(res.headers['cache-control']).toBe('no-store')
      expect((await http(`${gateway.url}/ipfs/${absent}?format=${format}`, { method: 'HEAD' })).status).toBe(404)
    }
  })

  it('answers 404 before any byte for content held in part', async () => {
    const part = pseudoRandomBytes(3 * CHUNK_SIZE, 43)
    const other = await cluster.node()
    const otherGateway = await gateways.start(other)
    const partCid = await other.publish(part)
    await other.unpin(partCid)
    await other.storage.delete(chunkCid(part, 1))
    const res = await http(`${otherGateway.url}/ipfs/${partCid}?format=car`)
    expect(res.status).toBe(404)
    expect(json(res).error.message).toMatch(/chunk 1 of 3/)
  })

  it.each([
    ['no format at all', '', {}],
    ['an unsupported format', '?format=tar', {}],
    ['an Accept it does not serve', '', { Accept: 'text/html' }],
    ['CAR version 2', '?format=car&car-version=2', {}],
    ['an unknown order', '?format=car&car-order=bfs', {}],
    ['a bad dups', '?format=car&car-dups=maybe', {}],
    ['a bad dag-scope', '?format=car&dag-scope=some', {}],
    ['entity-bytes', '?format=car&entity-bytes=0:100', {}]
  ])('answers 400 for %s', async (_label, query, headers) => {
    const res = await http(`${gateway.url}/ipfs/${cid}${query}`, { headers })
    expect(res.status).toBe(400)
    expect(json(res).error.code).toBe('InvalidInputError')
  })

  it('answers 400 for a bad CID, a CID DDS does not use, and a path under a CID', async () => {
    for (const path of ['/ipfs/not-a-cid?format=raw', '/ipfs/QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG?format=raw', `/ipfs/${cid}/file.txt?format=car`]) {
      const res = await http(`${gateway.url}${path}`)
      expect(res.status).toBe(400)
      expect(json(res).error.code).toBe('InvalidInputError')
    }
  })

  it('answers the probe /ipfs/bafkqaaa: an empty block, an empty CAR rooted at it', async () => {
    const raw = await http(`${gateway.url}/ipfs/bafkqaaa?format=raw`)
    expect(raw.status).toBe(200)
    expect(raw.body.byteLength).toBe(0)
    const car = await http(`${gateway.url}/ipfs/bafkqaaa`, { headers: { Accept: 'application/vnd.ipld.car' } })
    expect(car.status).toBe(200)
    const read = await readCar(car.body)
    expect(read.roots).toEqual(['bafkqaaa'])
    expect(read.cids).toEqual([])
    expect((await http(`${gateway.url}/ipfs/bafkqaaa?format=car`, { method: 'HEAD' })).status).toBe(200)
  })
})

describe('CAR responses and the client limits', () => {
  const cluster = new Cluster()
  const gateways = new Gateways()
  const size = 48 * 1024 * 1024
  let node: Dds
  let cid: string

  beforeAll(async () => {
    node = await cluster.node()
    cid = await node.publish(pseudoRandomBytes(size, 44))
  })
  afterAll(async () => {
    await gateways.close()
    await cluster.stop()
  })

  /** A client that asks for `path` and never reads the answer. */
  function stalledClient (port: number, path: string): Socket {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`)
      socket.pause()
    })
    socket.on('error', () => {})
    return socket
  }

  it('counts a CAR response as a content response, and closes it once its client stops reading', async () => {
    const gateway = await gateways.start(node, { writeTimeoutMs: 500, maxContentResponses: 1 })
    const socket = stalledClient(gateway.port, `/ipfs/${cid}?format=car`)
    await waitFor(async () => (await http(`${gateway.url}/ipfs/${cid}?format=raw`)).status === 503, 'the stalled CAR holds the only content place')
    const busy = await http(`${gateway.url}/dds/${cid}`, { headers: { range: 'bytes=0-9' } })
    expect(busy.status).toBe(503)
    expect(busy.headers['retry-after']).toBe('1')
    // the write timeout closes the stalled CAR and frees its place
    await waitFor(async () => (await http(`${gateway.url}/ipfs/${cid}?format=raw`)).status === 200, 'the stalled client\'s place is freed')
    let received = 0
    socket.on('data', (part: Buffer) => { received += part.byteLength })
    socket.resume()
    if (!socket.destroyed) {
      await new Promise(resolve => socket.once('close', resolve))
    }
    expect(received).toBeLessThan(size)
  })

  it('caps CAR responses per client with 429', async () => {
    const gateway = await gateways.start(node, { maxContentResponsesPerClient: 1 })
    const socket = stalledClient(gateway.port, `/ipfs/${cid}?format=car`)
    try {
      await waitFor(async () => (await http(`${gateway.url}/ipfs/${cid}?format=car&dag-scope=block`)).status === 429, 'the stalled CAR holds the client\'s share')
    } finally {
      socket.destroy()
    }
  })
})

describe('POST /api/v1/import', () => {
  const cluster = new Cluster()
  const gateways = new Gateways()
  const data = pseudoRandomBytes(2 * CHUNK_SIZE + 5, 45)
  let car: Uint8Array
  let cid: string
  let target: Dds
  let gateway: Gateway

  beforeAll(async () => {
    const source = await cluster.node()
    cid = await source.publish(data)
    car = await collect(source.exportCar(cid))
    target = await cluster.node()
    gateway = await gateways.start(target, { maxUploadBytes: car.byteLength + 1000 })
  })
  afterAll(async () => {
    await gateways.close()
    await cluster.stop()
  })

  it('imports a CAR streamed as the request body and answers its roots', async () => {
    async function * body (): AsyncGenerator<Uint8Array> {
      for (let at = 0; at < car.byteLength; at += 10_000) {
        yield car.subarray(at, at + 10_000)
      }
    }
    const res = await http(`${gateway.url}/api/v1/import`, { method: 'POST', body: body() })
    expect(res.status).toBe(200)
    expect(json(res)).toEqual({ roots: [cid], blocks: 4, bytes: (await carSections(car)).reduce((sum, s) => sum + s.bytes.byteLength, 0) })
    expect(equalBytes(await target.retrieveBytes(cid), data)).toBe(true)
  })

  it('answers 502 for a damaged block and 400 for a CAR missing a chunk, pinning nothing', async () => {
    const other = await cluster.node()
    const otherGateway = await gateways.start(other)
    const sections = await carSections(car)
    const damaged = writeCar([parseCid(cid)], sections.map((s, i) => i === 1 ? { cid: s.cid, bytes: s.bytes.map(b => b ^ 1) } : s))
    const bad = await http(`${otherGateway.url}/api/v1/import`, { method: 'POST', body: damaged })
    expect(bad.status).toBe(502)
    expect(json(bad).error.code).toBe('IntegrityError')
    const missing = writeCar([parseCid(cid)], sections.filter((_, i) => i !== 2))
    const incomplete = await http(`${otherGateway.url}/api/v1/import`, { method: 'POST', body: missing })
    expect(incomplete.status).toBe(400)
    expect(json(incomplete).error.code).toBe('InvalidInputError')
    expect(await other.pins()).toEqual([])
  })

  it('refuses an upload over maxUploadBytes with 413', async () => {
    const res = await http(`${gateway.url}/api/v1/import`, { method: 'POST', body: concat([car, new Uint8Array(2000)]) })
    expect(res.status).toBe(413)
  })

  it('is part of the write API: refused from another origin', async () => {
    const res = await http(`${gateway.url}/api/v1/import`, { method: 'POST', body: car, headers: { Origin: 'http://evil.example' } })
    expect(res.status).toBe(403)
  })
})
