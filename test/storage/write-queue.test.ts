/**
 * Serialised writes: `runInTurn` on a one-at-a-time p-queue (what the LevelDB
 * store and a responder's StoreChunks write through), and the LevelDB store's
 * counters under concurrent writes.
 */

import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import PQueue from 'p-queue'
import { runInTurn } from '../../src/signals.js'
import { levelStorage, type LevelStorageProvider } from '../../src/storage/index.js'
import { makeBlock, collect } from './contract.js'

/** A task that runs until `finish()` is called, recording when it starts and ends. */
function gatedTask (log: string[], name: string): { task: () => Promise<string>, finish: () => void } {
  let finish!: () => void
  const gate = new Promise<void>(resolve => { finish = resolve })
  return {
    task: async () => {
      log.push(`${name} start`)
      await gate
      log.push(`${name} end`)
      return name
    },
    finish
  }
}

/** Lets every pending promise reaction run. */
async function settle (): Promise<void> {
  for (let i = 0; i < 10; i++) {
    await Promise.resolve()
  }
}

describe('runInTurn', () => {
  it('runs tasks one at a time, in the order they were queued', async () => {
    const queue = new PQueue({ concurrency: 1 })
    const log: string[] = []
    const a = gatedTask(log, 'a')
    const b = gatedTask(log, 'b')
    const ranA = runInTurn(queue, a.task, undefined, 'a')
    const ranB = runInTurn(queue, b.task, new AbortController().signal, 'b')
    await settle()
    expect(log).toEqual(['a start'])
    a.finish()
    await expect(ranA).resolves.toBe('a')
    await settle()
    expect(log).toEqual(['a start', 'a end', 'b start'])
    b.finish()
    await expect(ranB).resolves.toBe('b')
  })

  it('takes a task whose signal aborts while it waits off the queue: never run, AbortError at once', async () => {
    const queue = new PQueue({ concurrency: 1 })
    const log: string[] = []
    const a = gatedTask(log, 'a')
    const b = gatedTask(log, 'b')
    const ranA = runInTurn(queue, a.task, undefined, 'a')
    const controller = new AbortController()
    const ranB = runInTurn(queue, b.task, controller.signal, 'the queued write')
    await settle()
    expect(queue.size).toBe(1)
    controller.abort()
    await expect(ranB).rejects.toMatchObject({ name: 'AbortError', message: 'the queued write was aborted' })
    expect(queue.size).toBe(0)
    a.finish()
    await ranA
    await queue.onIdle()
    expect(log).toEqual(['a start', 'a end'])
  })

  it('reports a deadline that passed while the task waited as TimeoutError', async () => {
    const queue = new PQueue({ concurrency: 1 })
    const a = gatedTask([], 'a')
    const ranA = runInTurn(queue, a.task, undefined, 'a')
    const controller = new AbortController()
    const ranB = runInTurn(queue, async () => 'b', controller.signal, 'the queued write')
    controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'))
    await expect(ranB).rejects.toMatchObject({ name: 'TimeoutError', message: 'the queued write timed out' })
    a.finish()
    await ranA
  })

  it('refuses a task whose signal aborted before it was queued', async () => {
    const queue = new PQueue({ concurrency: 1 })
    const log: string[] = []
    await expect(runInTurn(queue, async () => { log.push('ran') }, AbortSignal.abort(), 'the write'))
      .rejects.toMatchObject({ name: 'AbortError' })
    expect(queue.size + queue.pending).toBe(0)
    expect(log).toEqual([])
  })

  it('lets a started task run to its end before the next starts, even if its signal aborts', async () => {
    const queue = new PQueue({ concurrency: 1 })
    const log: string[] = []
    const a = gatedTask(log, 'a')
    const b = gatedTask(log, 'b')
    const controller = new AbortController()
    const ranA = runInTurn(queue, a.task, controller.signal, 'a')
    const ranB = runInTurn(queue, b.task, undefined, 'b')
    await settle()
    controller.abort()
    await settle()
    expect(log).toEqual(['a start'])
    a.finish()
    await expect(ranA).resolves.toBe('a')
    b.finish()
    await ranB
    expect(log).toEqual(['a start', 'a end', 'b start', 'b end'])
  })

  it('keeps going after a task fails, and passes its error on', async () => {
    const queue = new PQueue({ concurrency: 1 })
    const failed = runInTurn(queue, async () => { throw new Error('disk full') }, new AbortController().signal, 'a')
    const next = runInTurn(queue, async () => 'b', undefined, 'b')
    await expect(failed).rejects.toThrow('disk full')
    await expect(next).resolves.toBe('b')
  })
})

describe('LevelDB store writes', () => {
  let dir: string
  let store: LevelStorageProvider

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dds-writes-'))
    store = levelStorage({ path: dir })
    await store.open()
  })

  afterEach(async () => {
    await store.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('counts a block written by many concurrent puts once', async () => {
    const block = makeBlock(1, 1024)
    await Promise.all(Array.from({ length: 20 }, async () => { await store.put(block.cid, block.bytes) }))
    expect(await store.stats()).toEqual({ blocks: 1, bytes: 1024 })
  })

  it('keeps its counters equal to what it holds under concurrent puts, batches and deletes', async () => {
    const blocks = Array.from({ length: 40 }, (_, i) => makeBlock(i, 100 + i))
    await Promise.all([
      ...blocks.slice(0, 20).map(async b => { await store.put(b.cid, b.bytes) }),
      store.putMany(blocks.slice(10, 40)),
      ...blocks.slice(0, 10).map(async b => { await store.delete(b.cid) })
    ])
    const held = await collect(store.list())
    let bytes = 0
    for (const cid of held) {
      bytes += (await store.get(cid))!.byteLength
    }
    expect(await store.stats()).toEqual({ blocks: held.length, bytes })
  })

})
