/**
 * The js-stores interface suites (interface-blockstore-tests 9,
 * interface-datastore-tests 7) on every store the README documents for
 * `Dds.create({ blockstore, datastore })`, at the versions this package
 * locks: what the adapter (src/storage/adapter/) assumes of them is what
 * these suites check (`get` throws NotFoundError, lazy `putMany`, prefix
 * queries, ...). The suites are written for mocha with aegir's chai; they get
 * vitest's hooks as globals here and the chai of test/utils/aegir-chai.ts.
 */
import { describe, it, beforeEach, afterEach, beforeAll, afterAll } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { interfaceBlockstoreTests } from 'interface-blockstore-tests'
import { interfaceDatastoreTests } from 'interface-datastore-tests'
import { MemoryBlockstore } from 'blockstore-core'
import { MemoryDatastore } from 'datastore-core'
import { LevelBlockstore } from 'blockstore-level'
import { FsBlockstore } from 'blockstore-fs'
import { LevelDatastore } from 'datastore-level'

/** Mocha's `it`, whose test may call `this.timeout(ms)` (vitest's test timeout applies instead). */
function mochaIt (name: string, fn: (this: { timeout: (ms: number) => void }) => unknown): void {
  it(name, async () => { await fn.call({ timeout: () => {} }) })
}

Object.assign(globalThis, { describe, it: mochaIt, beforeEach, afterEach, before: beforeAll, after: afterAll })

const dirs = new WeakMap<object, string>()

async function tempDir (name: string): Promise<string> {
  return await mkdtemp(join(tmpdir(), `dds-js-stores-${name}-`))
}

describe('interface-blockstore: MemoryBlockstore (blockstore-core)', () => {
  interfaceBlockstoreTests({
    setup: () => new MemoryBlockstore(),
    teardown: () => {}
  })
})

describe('interface-blockstore: LevelBlockstore (blockstore-level)', () => {
  interfaceBlockstoreTests({
    setup: async () => {
      const dir = await tempDir('level')
      const store = new LevelBlockstore(dir)
      await store.open()
      dirs.set(store, dir)
      return store
    },
    teardown: async (store) => {
      await store.close()
      await rm(dirs.get(store)!, { recursive: true, force: true })
    }
  })
})

describe('interface-blockstore: FsBlockstore (blockstore-fs)', () => {
  interfaceBlockstoreTests({
    setup: async () => {
      const dir = await tempDir('fs')
      const store = new FsBlockstore(dir)
      await store.open()
      dirs.set(store, dir)
      return store
    },
    teardown: async (store) => {
      await store.close()
      await rm(dirs.get(store)!, { recursive: true, force: true })
    }
  })
})

describe('interface-datastore: MemoryDatastore (datastore-core)', () => {
  interfaceDatastoreTests({
    setup: () => new MemoryDatastore(),
    teardown: () => {}
  })
})

describe('interface-datastore: LevelDatastore (datastore-level)', () => {
  interfaceDatastoreTests({
    setup: async () => {
      const dir = await tempDir('datastore')
      const store = new LevelDatastore(dir)
      await store.open()
      dirs.set(store, dir)
      return store
    },
    teardown: async (store) => {
      await store.close()
      await rm(dirs.get(store)!, { recursive: true, force: true })
    }
  })
})
