import { describe, it, expect } from 'vitest'
import { networkService, resolveNetworkInit, createDdsLibp2p } from '../../src/network/index.js'
import {
  DEFAULT_HANDLER_TIMEOUT_MS, DEFAULT_MAX_INBOUND_STREAMS, DEFAULT_REQUEST_TIMEOUT_MS
} from '../../src/network/constants.js'

/** The error `fn` throws, for assertions on its name and message. */
function thrownBy (fn: () => unknown): Error | undefined {
  try {
    fn()
  } catch (err) {
    return err as Error
  }
  return undefined
}

describe('network options', () => {
  it('fills in the documented defaults', () => {
    const init = resolveNetworkInit()
    expect(init.maxInboundStreams).toBe(DEFAULT_MAX_INBOUND_STREAMS)
    expect(init.requestTimeoutMs).toBe(DEFAULT_REQUEST_TIMEOUT_MS)
    expect(init.handlerTimeoutMs).toBe(DEFAULT_HANDLER_TIMEOUT_MS)
  })

  it('refuses a fractional stream count, naming the option', () => {
    const err = thrownBy(() => networkService({ maxInboundStreams: 1.5 }))
    expect(err?.name).toBe('InvalidInputError')
    expect(err?.message).toMatch(/^maxInboundStreams must be an integer .*got 1\.5$/)
  })

  it('refuses a zero timeout, naming the option', () => {
    const err = thrownBy(() => networkService({ requestTimeoutMs: 0 }))
    expect(err?.name).toBe('InvalidInputError')
    expect(err?.message).toMatch(/^requestTimeoutMs must be .*got 0$/)
  })

  it.each([
    ['maxRequestsPerStream', 2.5],
    ['maxInFlightPerPeer', 0],
    ['maxFrameSize', -1],
    ['maxStoredBytes', Number.NaN],
    ['handlerTimeoutMs', 10.5],
    ['idleTimeoutMs', Number.POSITIVE_INFINITY],
    ['idleTimeoutMs', 2 ** 31]
  ])('refuses %s = %s', (name, value) => {
    const err = thrownBy(() => resolveNetworkInit({ [name]: value }))
    expect(err?.name).toBe('InvalidInputError')
    expect(err?.message).toContain(name)
  })

  it('accepts the longest timeout a Node.js timer takes', () => {
    expect(resolveNetworkInit({ idleTimeoutMs: 2 ** 31 - 1 }).idleTimeoutMs).toBe(2 ** 31 - 1)
  })

  it('refuses a fractional connection limit before creating a node', async () => {
    await expect(createDdsLibp2p({ maxConnections: 1.5 })).rejects.toMatchObject({
      name: 'InvalidInputError',
      message: expect.stringContaining('maxConnections')
    })
  })
})
