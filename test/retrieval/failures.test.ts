/** The error a retrieval ends with when no peer delivers a block. */
import { describe, expect, it } from 'vitest'
import { cidForBlock, cidToString } from '../../src/cid.js'
import { IntegrityError, RemoteError, TimeoutError } from '../../src/errors.js'
import { Failures, unavailableError } from '../../src/retrieval/failures.js'

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
