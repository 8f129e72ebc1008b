import { describe, it, expect } from 'vitest'
import type { AbortOptions } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import { AnnounceQueue } from '../../src/discovery/announce-queue.js'
import { cidForBlock, cidToString } from '../../src/cid.js'
import type { Discovery, ProvideResult, Provider } from '../../src/discovery/index.js'

/**
 * A Discovery that records the CIDs it is asked to provide and answers each
 * only when the test says so.
 */
class RecordingDiscovery implements Discovery {
  /** CIDs asked for, in order (string form). */
  readonly asked: string[] = []
  /** The signal each provide was given, in order. */
  readonly signals: AbortSignal[] = []
  running = 0
  mostRunning = 0
  private readonly answers: Array<{ resolve: (result: ProvideResult) => void, reject: (err: Error) => void }> = []

  async provide (cid: CID, options: AbortOptions = {}): Promise<ProvideResult> {
    this.asked.push(cidToString(cid))
    this.signals.push(options.signal!)
    this.running++
    this.mostRunning = Math.max(this.mostRunning, this.running)
    try {
      return await new Promise<ProvideResult>((resolve, reject) => {
        this.answers.push({ resolve, reject })
        options.signal?.addEventListener('abort', () => { reject(options.signal!.reason) }, { once: true })
      })
    } finally {
      this.running--
    }
  }

  async * findProviders (): AsyncGenerator<Provider> {}

  /** Answers the oldest unanswered provide. */
  answer (result: ProvideResult | Error = { peers: 3 }): void {
    const next = this.answers.shift()
    if (next == null) {
      throw new Error('no provide is waiting for an answer')
    }
    if (result instanceof Error) {
      next.reject(result)
    } else {
      next.resolve(result)
    }
  }
}

function cids (count: number, from = 0): CID[] {
  return Array.from({ length: count }, (_, i) => cidForBlock(new Uint8Array([from + i, 7, 7])))
}

/** Lets every promise reaction queued so far (and those they queue) run. */
async function flush (): Promise<void> {
  await new Promise(resolve => setImmediate(resolve))
}

describe('AnnounceQueue', () => {
  it('runs at most `concurrency` announcements at once, starting the next as one ends', async () => {
    const discovery = new RecordingDiscovery()
    const queue = new AnnounceQueue(discovery, { concurrency: 2 })
    const all = cids(5)
    queue.add(all)
    await flush()
    expect(discovery.asked).toEqual(all.slice(0, 2).map(cidToString))
    expect(queue.pending).toBe(5)
    discovery.answer()
    await flush()
    expect(discovery.asked).toHaveLength(3)
    expect(queue.pending).toBe(4)
    for (let i = 0; i < 4; i++) {
      discovery.answer()
      await flush()
    }
    expect(discovery.asked).toEqual(all.map(cidToString))
    expect(discovery.mostRunning).toBe(2)
    expect(queue.pending).toBe(0)
  })

  it('does not queue a CID that is already waiting or running', async () => {
    const discovery = new RecordingDiscovery()
    const queue = new AnnounceQueue(discovery, { concurrency: 1 })
    const [a, b] = cids(2)
    queue.add([a!, b!, a!])
    queue.add([b!])
    expect(queue.pending).toBe(2)
    await flush()
    discovery.answer()
    await flush()
    discovery.answer()
    await queue.onIdle()
    expect(discovery.asked).toEqual([cidToString(a!), cidToString(b!)])
  })

  it('reports each outcome, peers or error, through onAnnounced', async () => {
    const discovery = new RecordingDiscovery()
    const outcomes: Array<[string, unknown]> = []
    const queue = new AnnounceQueue(discovery, { onAnnounced: (cid, result) => { outcomes.push([cidToString(cid), result]) } })
    const [a, b] = cids(2)
    queue.add([a!, b!])
    await flush()
    discovery.answer({ peers: 4 })
    const failure = new Error('no DHT peer took it')
    discovery.answer(failure)
    await queue.onIdle()
    expect(outcomes).toEqual([[cidToString(a!), { peers: 4 }], [cidToString(b!), { error: failure }]])
  })

  it('onIdle resolves at once when nothing is pending, and once everything has been announced', async () => {
    const discovery = new RecordingDiscovery()
    const queue = new AnnounceQueue(discovery)
    await queue.onIdle()
    queue.add(cids(3))
    let idle = false
    const waiting = queue.onIdle().then(() => { idle = true })
    await flush()
    discovery.answer()
    discovery.answer()
    await flush()
    expect(idle).toBe(false)
    discovery.answer()
    await waiting
    expect(idle).toBe(true)
  })

  it('reads a source only as announcement slots free up, counting what it has yet to yield', async () => {
    const discovery = new RecordingDiscovery()
    const queue = new AnnounceQueue(discovery, { concurrency: 2 })
    const all = cids(6)
    let read = 0
    async function * source (): AsyncGenerator<CID> {
      for (const cid of all) {
        read++
        yield cid
      }
    }
    queue.addSource(source(), all.length)
    expect(queue.pending).toBe(6)
    await flush()
    expect(discovery.asked).toHaveLength(2)
    // one CID is read ahead into the queue, no more
    expect(read).toBeLessThanOrEqual(3)
    expect(queue.pending).toBe(6)
    while (discovery.asked.length < all.length || discovery.running > 0) {
      discovery.answer()
      await flush()
    }
    await queue.onIdle()
    expect(discovery.asked).toEqual(all.map(cidToString))
    expect(discovery.mostRunning).toBe(2)
  })

  it('drops a source that fails and goes on with the next', async () => {
    const discovery = new RecordingDiscovery()
    const queue = new AnnounceQueue(discovery)
    const [a, b] = cids(2)
    async function * broken (): AsyncGenerator<CID> {
      yield a!
      throw new Error('the blocks vanished')
    }
    async function * fine (): AsyncGenerator<CID> {
      yield b!
    }
    queue.addSource(broken(), 5)
    queue.addSource(fine(), 1)
    while (discovery.asked.length < 2) {
      await flush()
      if (discovery.running > 0) {
        discovery.answer()
      }
    }
    discovery.answer()
    await queue.onIdle()
    expect(discovery.asked).toEqual([cidToString(a!), cidToString(b!)])
    expect(queue.pending).toBe(0)
  })

  it('stop() aborts what runs, drops what waits, ends its sources and resolves onIdle', async () => {
    const discovery = new RecordingDiscovery()
    const queue = new AnnounceQueue(discovery, { concurrency: 1 })
    async function * source (): AsyncGenerator<CID> {
      yield * cids(10, 100)
    }
    const pending = source()
    queue.add(cids(3))
    queue.addSource(pending, 10)
    await flush()
    const idle = queue.onIdle()
    queue.stop()
    await idle
    expect(discovery.signals[0]?.aborted).toBe(true)
    await flush()
    // the aborted announcement has ended; nothing else was started
    expect(queue.pending).toBe(0)
    expect(discovery.asked).toHaveLength(1)
    // the source was ended (return()), so it yields nothing more
    expect(await pending.next()).toEqual({ done: true, value: undefined })
    queue.add(cids(1, 50))
    queue.addSource(source(), 10)
    await flush()
    expect(discovery.asked).toHaveLength(1)
  })

  it('announces what its sources yield through provideMany, in batches, and single CIDs one by one', async () => {
    const discovery = new RecordingDiscovery()
    const batches: string[][] = []
    let answerBatch: (() => void) | undefined
    const sweeping: Discovery = {
      provide: discovery.provide.bind(discovery),
      findProviders: discovery.findProviders.bind(discovery),
      async provideMany (list: CID[]) {
        batches.push(list.map(cidToString))
        await new Promise<void>(resolve => { answerBatch = resolve })
        return { peers: list.map((_, i) => i % 2), failures: ['a peer: ConnectionFailedError: gone'] }
      }
    }
    const outcomes = new Map<string, unknown>()
    const sweepFailures: Array<[string[], number]> = []
    const queue = new AnnounceQueue(sweeping, {
      onAnnounced: (cid, result) => { outcomes.set(cidToString(cid), result) },
      onSweepFailures: (failures, records) => { sweepFailures.push([failures, records]) }
    })
    const all = cids(40, 50)
    async function * source (): AsyncGenerator<CID> {
      yield * all
    }
    queue.addSource(source(), all.length)
    const [single] = cids(1, 200)
    queue.add([single!])
    await flush()
    // the single CID is provided on its own while the source's CIDs go out in one sweep
    expect(discovery.asked).toEqual([cidToString(single!)])
    expect(batches).toEqual([all.map(cidToString)])
    expect(queue.pending).toBe(41)
    discovery.answer({ peers: 4 })
    answerBatch?.()
    await queue.onIdle()
    expect(queue.pending).toBe(0)
    expect(outcomes.get(cidToString(single!))).toEqual({ peers: 4 })
    expect(outcomes.get(cidToString(all[0]!))).toEqual({ peers: 0 })
    // why the sweep missed peers reaches the queue's owner (the announcer logs it)
    expect(sweepFailures).toEqual([[['a peer: ConnectionFailedError: gone'], 40]])
    expect(outcomes.get(cidToString(all[1]!))).toEqual({ peers: 1 })
    expect(batches).toHaveLength(1)
  })
})
