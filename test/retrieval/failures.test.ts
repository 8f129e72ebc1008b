/** The error a retrieval ends with when no peer delivers a block. */
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { CHUNK_SIZE, cidForBlock, cidToString } from '../../src/cid.js'
import { IntegrityError, RemoteError, TimeoutError } from '../../src/errors.js'
import { Failures, unavailableError } from '../../src/retrieval/failures.js'
import { Cluster } from '../utils/cluster.js'

const cid = cidForBlock(new TextEncoder().encode('a block nobody sent'))

describe('unavailableError', () => {
  it('is a NotFoundError saying that no provider was found when no peer was asked', () => {
    for (const err of [unavailableError(cid), unavailableError(cid, new Failures())]) {
      expect(err.name).toBe('NotFoundError')
      expect(err.message).toBe(`no reachable peer holds ${cidToString(cid)} (no provider was found); check that a node holding it is online and connected to this network`)
    }
  })

  it('names each peer tried and how it failed', () => {
    const failures = new Failures()
    failures.add('peerA', new TimeoutError('slow'))
    failures.add('peerB', new RemoteError('gone'))
    const err = unavailableError(cid, failures)
    expect(err.name).toBe('NotFoundError')
    expect(err.message).toContain('(tried peerA: TimeoutError, peerB: RemoteError)')
  })

  it('is an IntegrityError once a peer sent bytes that do not match the CID, whatever the others did', () => {
    const failures = new Failures()
    failures.add('peerA', new IntegrityError('wrong bytes'))
    failures.add('peerB', new TimeoutError('slow'))
    expect(failures.sawIntegrityError).toBe(true)
    const err = unavailableError(cid, failures)
    expect(err.name).toBe('IntegrityError')
    expect(err.message).toBe(`no peer sent valid bytes for ${cidToString(cid)} (tried peerA: IntegrityError, peerB: TimeoutError)`)
  })
})

describe('unavailableError for a chunk of content', () => {
  const content = cidForBlock(new TextEncoder().encode('the manifest the user asked for'))

  it('names the content the caller asked for first, then which chunk is missing', () => {
    const failures = new Failures()
    failures.add('peerA', new RemoteError('gone'))
    const err = unavailableError(cid, failures, { content, index: 2, chunks: 10 })
    expect(err.name).toBe('NotFoundError')
    expect(err.message).toBe(`no reachable peer holds all of ${cidToString(content)}: chunk 3 of 10 (${cidToString(cid)}) is missing (tried peerA: RemoteError); check that a node holding the content is online and connected to this network`)
  })

  it('names the content in an IntegrityError too', () => {
    const failures = new Failures()
    failures.add('peerA', new IntegrityError('wrong bytes'))
    const err = unavailableError(cid, failures, { content, index: 0, chunks: 1 })
    expect(err.name).toBe('IntegrityError')
    expect(err.message).toBe(`no peer sent valid bytes for ${cidToString(content)}: chunk 1 of 1 (${cidToString(cid)}) (tried peerA: IntegrityError)`)
  })
})

describe('a retrieval one of whose chunks nobody holds', () => {
  const cluster = new Cluster()
  afterEach(async () => { await cluster.stop() })

  it('fails with a NotFoundError that names the content asked for, then the missing chunk', async () => {
    const [a, b] = await cluster.network(2)
    const content = randomBytes(3 * CHUNK_SIZE)
    const root = await a!.publish(content)
    const lost = cidForBlock(content.subarray(CHUNK_SIZE, 2 * CHUNK_SIZE))
    await a!.storage.delete(lost)
    const err = await b!.retrieveBytes(root).then(() => undefined, (e: Error) => e)
    expect(err?.name).toBe('NotFoundError')
    expect(err?.message).toMatch(new RegExp(`^no reachable peer holds all of ${root}: chunk 2 of 3 \\(${cidToString(lost)}\\) is missing \\(`))
  })
})
