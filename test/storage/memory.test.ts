import { describe, it, expect } from 'vitest'
import { memoryStorage } from '../../src/storage/index.js'
import { storageContract, makeBlock } from './contract.js'

storageContract('memory', {
  setup: async () => {
    const store = memoryStorage()
    await store.open()
    return store
  },
  teardown: async store => { await store.close() }
})

describe('memoryStorage', () => {
  it('is usable without open() and says it is a memory store', async () => {
    const store = memoryStorage()
    expect(store.kind).toBe('memory')
    const { cid, bytes } = makeBlock(1)
    await store.put(cid, bytes)
    expect(await store.has(cid)).toBe(true)
    await store.close()
  })

  it('gives each factory call its own store', async () => {
    const a = memoryStorage()
    const b = memoryStorage()
    const { cid, bytes } = makeBlock(2)
    await a.put(cid, bytes)
    expect(await b.has(cid)).toBe(false)
  })
})
