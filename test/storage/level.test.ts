import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { spawn } from 'node:child_process'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { equals } from 'multiformats/bytes'
import { Level } from 'level'
import { cidForBlock } from '../../src/cid.js'
import { createStorage, levelStorage, memoryStorage } from '../../src/storage/index.js'
import { storageContract, makeBlock, collect } from './contract.js'
import type { ChildProcess } from 'node:child_process'
import type { LevelStorageProvider, StorageProvider } from '../../src/storage/index.js'

const CHILD = fileURLToPath(new URL('./fixtures/level-child.mjs', import.meta.url))
const REPO = fileURLToPath(new URL('../..', import.meta.url))

const dirs = new WeakMap<StorageProvider, string>()

async function tempDir (): Promise<string> {
  return await mkdtemp(join(tmpdir(), 'dds-storage-'))
}

storageContract('level', {
  setup: async () => {
    const dir = await tempDir()
    const store = levelStorage({ path: dir })
    await store.open()
    dirs.set(store, dir)
    return store
  },
  teardown: async store => {
    await store.close()
    await rm(dirs.get(store)!, { recursive: true, force: true })
  }
})

/** Runs the fixture under the same Node binary and waits until it prints "ready". */
async function startChild (args: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, [CHILD, ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) resolve()
    })
    child.once('exit', code => { reject(new Error(`child exited with ${code}: ${stderr}`)) })
  })
  return child
}

async function kill (child: ChildProcess): Promise<void> {
  if (child.exitCode != null || child.signalCode != null) return
  const exited = new Promise(resolve => child.once('exit', resolve))
  child.kill('SIGKILL')
  await exited
}

describe('levelStorage', () => {
  let dir: string
  const open: LevelStorageProvider[] = []

  function store (init: { path?: string, sync?: boolean } = {}): LevelStorageProvider {
    const s = levelStorage({ path: init.path ?? dir, sync: init.sync })
    open.push(s)
    return s
  }

  beforeEach(async () => {
    dir = await tempDir()
  })

  afterEach(async () => {
    await Promise.all(open.splice(0).map(async s => { await s.close().catch(() => {}) }))
    await rm(dir, { recursive: true, force: true })
  })

  it('keeps blocks and stats across close and reopen', async () => {
    const blocks = [makeBlock(1, 262144), makeBlock(2, 10), makeBlock(3, 20)]
    const first = store()
    await first.putMany(blocks)
    await first.delete(blocks[2]!.cid)
    await first.close()

    const second = store()
    await second.open()
    expect(await second.stats()).toEqual({ blocks: 2, bytes: 262154 })
    expect(equals((await second.get(blocks[0]!.cid))!, blocks[0]!.bytes)).toBe(true)
    expect(await second.has(blocks[2]!.cid)).toBe(false)
    expect((await collect(second.list())).map(String).sort())
      .toEqual([blocks[0]!.cid, blocks[1]!.cid].map(String).sort())
  })

  it('finishes writes queued before close() and keeps them', async () => {
    const blocks = Array.from({ length: 20 }, (_, i) => makeBlock(100 + i, 4096))
    const first = store()
    await first.open()
    const writes = blocks.map(async ({ cid, bytes }) => { await first.put(cid, bytes) })
    await writes[0]
    // By now every put has entered the write queue: close() must wait for them.
    await first.close()
    const results = await Promise.allSettled(writes)
    expect(results.map(r => r.status)).toEqual(blocks.map(() => 'fulfilled'))
    const second = store()
    expect(await second.stats()).toEqual({ blocks: 20, bytes: 20 * 4096 })
    expect((await collect(second.list())).length).toBe(20)
  })

  it('works with sync: true', async () => {
    const a = makeBlock(4, 1000)
    const first = store({ sync: true })
    await first.put(a.cid, a.bytes)
    await first.close()
    const second = store()
    expect(await second.stats()).toEqual({ blocks: 1, bytes: 1000 })
  })

  it('creates missing parent directories', async () => {
    const nested = join(dir, 'a', 'b', 'c')
    const s = store({ path: nested })
    await s.open()
    expect((await stat(nested)).isDirectory()).toBe(true)
    expect(s.path).toBe(nested)
  })

  it('opens on first use when open() was not called', async () => {
    const a = makeBlock(5)
    const s = store()
    await s.put(a.cid, a.bytes)
    expect(await s.has(a.cid)).toBe(true)
  })

  it('refuses a second store on a directory that is in use, naming the path', async () => {
    const first = store()
    await first.open()
    const second = store()
    const err = await second.open().then(() => undefined, (err: Error) => err)
    expect(err?.name).toBe('StorageError')
    expect(err?.message).toContain(dir)
    expect(err?.message).toMatch(/another process/)
    await expect(second.stats()).rejects.toMatchObject({ name: 'StorageError' })
    // The first store is unaffected, and the directory opens once it is released.
    const a = makeBlock(6)
    await first.put(a.cid, a.bytes)
    await first.close()
    expect(await second.has(a.cid)).toBe(true)
  })

  it('refuses a directory that another process holds', async () => {
    const child = await startChild(['hold', dir])
    try {
      const err = await store().open().then(() => undefined, (err: Error) => err)
      expect(err?.name).toBe('StorageError')
      expect(err?.message).toContain(dir)
      expect(err?.message).toMatch(/another process/)
    } finally {
      await kill(child)
    }
    await store().open()
  })

  it('keeps a resolved unsynced write when the writer is killed, and recounts stats', async () => {
    const bytes = new Uint8Array(5000).fill(7)
    const cid = cidForBlock(bytes)
    const child = await startChild(['write', dir, Buffer.from(cid.bytes).toString('hex'), '5000'])
    await kill(child)
    const s = store()
    expect(equals((await s.get(cid))!, bytes)).toBe(true)
    // The child wrote no counters record: the store counted the blocks on open.
    expect(await s.stats()).toEqual({ blocks: 1, bytes: 5000 })
  })

  it('recounts stats when the counters record is damaged', async () => {
    const blocks = [makeBlock(7, 300), makeBlock(8, 400)]
    const first = store()
    await first.putMany(blocks)
    await first.close()
    const raw = new Level<string, string>(dir)
    await raw.put('!meta!stats', '{"blocks":-1}')
    await raw.close()
    expect(await store().stats()).toEqual({ blocks: 2, bytes: 700 })
  })

  it('keeps sublevel records out of list() and stats(), and across reopen', async () => {
    const first = store()
    expect(() => first.sublevel('pins')).toThrow(/open\(\)/)
    await first.open()
    const pins = first.sublevel('pins')
    const a = makeBlock(9, 10)
    await first.put(a.cid, a.bytes)
    await pins.put(a.cid.bytes, new Uint8Array([1]))
    await pins.put(new Uint8Array([0xff, 0xff]), new Uint8Array(100))
    expect((await collect(first.list())).map(String)).toEqual([a.cid.toString()])
    expect(await first.stats()).toEqual({ blocks: 1, bytes: 10 })
    await first.close()
    expect(() => first.sublevel('pins')).toThrow(/closed/)

    const second = store()
    await second.open()
    const again = second.sublevel('pins')
    expect(equals((await again.get(a.cid.bytes))!, new Uint8Array([1]))).toBe(true)
    expect(await second.stats()).toEqual({ blocks: 1, bytes: 10 })
  })

  it('refuses reserved and malformed sublevel names', async () => {
    const s = store()
    await s.open()
    for (const name of ['blocks', 'meta', 'a!b', 'é']) {
      expect(() => s.sublevel(name), name).toThrow(expect.objectContaining({ name: 'InvalidInputError' }))
    }
  })

  it('rejects an empty path', () => {
    expect(() => levelStorage({ path: '' })).toThrow(expect.objectContaining({ name: 'InvalidInputError' }))
  })
})

describe('createStorage', () => {
  it('makes a memory store from "memory"', () => {
    expect(createStorage('memory').kind).toBe('memory')
  })

  it('makes a LevelDB store from a path', async () => {
    const dir = await tempDir()
    try {
      const s = createStorage(join(dir, 'data'))
      expect(s.kind).toBe('level')
      const a = makeBlock(1)
      await s.put(a.cid, a.bytes)
      expect((await stat(join(dir, 'data'))).isDirectory()).toBe(true)
      await s.close()
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('returns a provider object as is', () => {
    const provider = memoryStorage()
    expect(createStorage(provider)).toBe(provider)
  })

  it.each([
    ['an empty string', ''],
    ['a number', 42],
    ['null', null],
    ['an object without the methods', { kind: 'fake', get: () => {} }]
  ])('rejects %s', (_, spec) => {
    expect(() => createStorage(spec as string)).toThrow(expect.objectContaining({ name: 'InvalidInputError' }))
  })
})
