/** The limits of ReplicationInit: defaults filled in, each bound accepted at its edge and refused past it. */
import { describe, it, expect } from 'vitest'
import { resolveReplicationInit } from '../../src/replication/index.js'

const invalid = expect.objectContaining({ name: 'InvalidInputError' })

describe('replication options', () => {
  it('fills in the defaults, maxCopies from the factor given', () => {
    expect(resolveReplicationInit()).toMatchObject({ factor: 3, maxCopies: 5, quotaBytes: 1024 * 1024 * 1024, perPeerShare: 0.5, maxReplicaFetches: 4, accept: 'any' })
    expect(resolveReplicationInit({ factor: 4 }).maxCopies).toBe(6)
  })

  it('takes a share in (0, 1], a quota of 0, and maxCopies equal to the factor', () => {
    expect(resolveReplicationInit({ perPeerShare: 1 }).perPeerShare).toBe(1)
    expect(resolveReplicationInit({ perPeerShare: 0.001 }).perPeerShare).toBe(0.001)
    expect(resolveReplicationInit({ quotaBytes: 0 }).quotaBytes).toBe(0)
    expect(resolveReplicationInit({ factor: 2, maxCopies: 2 }).maxCopies).toBe(2)
  })

  it('refuses values past each bound, naming the option', () => {
    expect(() => resolveReplicationInit({ perPeerShare: 0 })).toThrowError(invalid)
    expect(() => resolveReplicationInit({ perPeerShare: 1.01 })).toThrowError(/replication\.perPeerShare/)
    expect(() => resolveReplicationInit({ quotaBytes: -1 })).toThrowError(/replication\.quotaBytes/)
    expect(() => resolveReplicationInit({ factor: 3, maxCopies: 2 })).toThrowError(/replication\.maxCopies/)
    expect(() => resolveReplicationInit({ factor: 0 })).toThrowError(/replication\.factor/)
    expect(() => resolveReplicationInit({ probeTimeoutMs: 1.5 })).toThrowError(/replication\.probeTimeoutMs/)
    expect(() => resolveReplicationInit({ maxReplicaFetches: 0 })).toThrowError(invalid)
  })
})
