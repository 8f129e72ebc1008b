/**
 * An independent client that knows only protos/dds_messages.proto and the
 * protocol id can fetch and verify blocks from a running DDS node.
 *
 * The client (test/network/fixtures/independent-client.ts) imports nothing from src/;
 * only the server side here is a real `Dds` node, the system under test.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { createHash, randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type { Dds } from '../../src/index.js'
import { Cluster } from '../utils/cluster.js'
import {
  IndependentClient, PROTOCOL_ID, blockMatches, parseCidString, rawCidBytes, type PlainResponse
} from './fixtures/independent-client.js'

const CHUNK = 262144

function sha256 (data: Uint8Array): Buffer {
  return createHash('sha256').update(data).digest()
}

function bytesEqual (a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a != null && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))
}

function okData (response: PlainResponse | undefined, id: number): Uint8Array {
  expect(response?.id).toBe(id)
  expect(response?.body).toBe('retrieveChunk')
  expect(response?.retrieveChunk?.status).toBe('OK')
  const data = response?.retrieveChunk?.data
  expect(data).toBeInstanceOf(Uint8Array)
  return data!
}

describe('an independent client (schema + protocol id only)', () => {
  // Content of 2 full chunks and a short third one.
  const content = randomBytes(2 * CHUNK + 1234)
  const cluster = new Cluster()
  let server: Dds
  let client: IndependentClient
  let address: string
  let manifestCid: string

  beforeAll(async () => {
    // No DHT peers: nothing to announce to.
    server = await cluster.node({ storage: 'memory', announce: 'none' })
    manifestCid = await server.publish(content)
    address = server.getMultiaddrs()[0]!
    client = await IndependentClient.create()
  })

  afterAll(async () => {
    await client?.stop()
    await cluster.stop()
  })

  it('imports nothing from src/', async () => {
    const source = await readFile(fileURLToPath(new URL('./fixtures/independent-client.ts', import.meta.url)), 'utf8')
    const specifiers = [...source.matchAll(/^\s*import\s[^'"]*['"]([^'"]+)['"]/gm)].map(m => m[1]!)
    expect(specifiers.length).toBeGreaterThan(5)
    for (const specifier of specifiers) {
      expect(specifier, `import of ${specifier}`).not.toMatch(/^\.|src\//)
    }
    expect(PROTOCOL_ID).toBe('/digisocialblock/dds/0.1.0')
  })

  it('fetches the manifest block by the CID publish returned, decodes it, fetches and verifies the first chunk', async () => {
    const cid = parseCidString(manifestCid)
    expect(manifestCid.startsWith('z')).toBe(true)

    const [manifestResponse, ...rest] = await client.exchange(address, [{ id: 7, retrieveChunk: { cid: cid.bytes } }])
    expect(rest).toHaveLength(0)
    const manifestBytes = okData(manifestResponse, 7)
    expect(blockMatches(cid.bytes, manifestBytes)).toBe(true)

    const manifest = client.decodeManifest(manifestBytes)
    expect(manifest.chunkCids).toHaveLength(3)
    expect(manifest.originalContentSizeBytes).toBe(content.byteLength)
    expect(bytesEqual(manifest.originalContentSha256, sha256(content))).toBe(true)

    const firstCid = manifest.chunkCids[0]!
    expect(bytesEqual(firstCid, rawCidBytes(content.subarray(0, CHUNK)))).toBe(true)
    const [chunkResponse] = await client.exchange(address, [{ id: 7, retrieveChunk: { cid: firstCid } }])
    const chunk = okData(chunkResponse, 7)
    expect(chunk.byteLength).toBe(CHUNK)
    // Verified against the digest inside the CID, hashed here with node:crypto.
    expect(blockMatches(firstCid, chunk)).toBe(true)
    expect(blockMatches(firstCid, Uint8Array.from(chunk, (b, i) => i === 0 ? b ^ 1 : b))).toBe(false)
    expect(bytesEqual(chunk, content.subarray(0, CHUNK))).toBe(true)
  })

  async function chunkCids (): Promise<Uint8Array[]> {
    const [manifestResponse] = await client.exchange(address, [{ id: 99, retrieveChunk: { cid: parseCidString(manifestCid).bytes } }])
    return client.decodeManifest(okData(manifestResponse, 99)).chunkCids
  }

  function checkPipelined (responses: PlainResponse[], cids: Uint8Array[]): void {
    expect(responses.map(r => r.id).sort()).toEqual([1, 2, 3])
    const parts: Uint8Array[] = []
    for (let id = 1; id <= 3; id++) {
      const data = okData(responses.find(r => r.id === id), id)
      expect(blockMatches(cids[id - 1]!, data)).toBe(true)
      parts.push(data)
    }
    expect(parts.map(p => p.byteLength)).toEqual([CHUNK, CHUNK, 1234])
    const whole = Buffer.concat(parts)
    expect(whole.equals(content)).toBe(true)
    expect(bytesEqual(sha256(content), sha256(whole))).toBe(true)
  }

  it('pipelines 3 requests (ids 1, 2, 3) on one stream and gets 3 responses matched by id', async () => {
    const cids = await chunkCids()
    expect(cids).toHaveLength(3)
    const responses = await client.exchange(address, cids.map((cid, i) => ({ id: i + 1, retrieveChunk: { cid } })), { closeWrite: 'after' })
    expect(responses).toHaveLength(3)
    checkPipelined(responses, cids)
  })

  it('answers all 3 pipelined requests when the client closes its write side right after sending them', async () => {
    // A requester may half-close as soon as it has nothing more to ask; the
    // responder must still answer every request it read before closing.
    const cids = await chunkCids()
    const responses = await client.exchange(address, cids.map((cid, i) => ({ id: i + 1, retrieveChunk: { cid } })), { closeWrite: 'early' })
    expect(responses.map(r => r.id).sort()).toEqual([1, 2, 3])
    checkPipelined(responses, cids)
  })

  it('gets NOT_FOUND, with its id, for a CID the node does not hold', async () => {
    const unknown = rawCidBytes(randomBytes(64))
    const responses = await client.exchange(address, [{ id: 42, retrieveChunk: { cid: unknown } }])
    expect(responses).toHaveLength(1)
    const [response] = responses
    expect(response?.id).toBe(42)
    expect(response?.body).toBe('retrieveChunk')
    expect(response?.retrieveChunk?.status).toBe('NOT_FOUND')
    expect(response?.retrieveChunk?.data == null || response.retrieveChunk.data.byteLength === 0).toBe(true)
  })
})
