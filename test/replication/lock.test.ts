/**
 * The gc lock: writers share it, gc holds it alone, and a waiting gc is not
 * starved by writers that keep coming. Each holder records when it starts
 * and ends and holds the lock until the test lets it go, so the assertions
 * are about the order of events, never about time.
 */
import { describe, it, expect } from 'vitest'
import { GcLock } from '../../src/replication/lock.js'

/** A holder of the lock that the test releases. */
interface Holder {
  /** Settles once the holder has the lock. */
  started: Promise<void>
  /** Lets the holder go. */
  release(): void
  /** Settles once the holder has let the lock go. */
  done: Promise<void>
}

function holder (lock: GcLock, side: 'shared' | 'exclusive', name: string, events: string[]): Holder {
  const started = Promise.withResolvers<void>()
  const released = Promise.withResolvers<void>()
  const run = async (): Promise<void> => {
    events.push(`${name} start`)
    started.resolve()
    await released.promise
    events.push(`${name} end`)
  }
  const done = side === 'shared' ? lock.withShared(run) : lock.withExclusive(run)
  return { started: started.promise, release: () => { released.resolve() }, done }
}

describe('gc lock', () => {
  it('lets writers hold it at once', async () => {
    const lock = new GcLock()
    const events: string[] = []
    const a = holder(lock, 'shared', 'a', events)
    const b = holder(lock, 'shared', 'b', events)
    await Promise.all([a.started, b.started])
    expect(events).toEqual(['a start', 'b start'])
    a.release()
    b.release()
    await Promise.all([a.done, b.done])
  })

  it('runs gc after the writers that hold it, and writers that come later after gc', async () => {
    const lock = new GcLock()
    const events: string[] = []
    const writer = holder(lock, 'shared', 'writer', events)
    await writer.started
    const gc = holder(lock, 'exclusive', 'gc', events)
    // a steady stream of writers arriving while gc waits
    const later = ['w1', 'w2', 'w3'].map(name => holder(lock, 'shared', name, events))
    writer.release()
    await gc.started
    expect(events).toEqual(['writer start', 'writer end', 'gc start'])
    gc.release()
    await Promise.all(later.map(async w => w.started))
    expect(events).toEqual(['writer start', 'writer end', 'gc start', 'gc end', 'w1 start', 'w2 start', 'w3 start'])
    later.forEach(w => { w.release() })
    await Promise.all([gc.done, ...later.map(async w => w.done)])
  })

  it('runs one gc at a time, and releases the lock when its holder throws', async () => {
    const lock = new GcLock()
    const events: string[] = []
    await expect(lock.withExclusive(async () => { throw new Error('sweep failed') })).rejects.toThrow('sweep failed')
    const first = holder(lock, 'exclusive', 'gc1', events)
    const second = holder(lock, 'exclusive', 'gc2', events)
    await first.started
    first.release()
    await second.started
    second.release()
    await Promise.all([first.done, second.done])
    expect(events).toEqual(['gc1 start', 'gc1 end', 'gc2 start', 'gc2 end'])
  })

  it('is a lock of its own per instance: one node holding its lock does not hold up another', async () => {
    const one = new GcLock()
    const two = new GcLock()
    const events: string[] = []
    const gc = holder(one, 'exclusive', 'one', events)
    await gc.started
    await two.withExclusive(async () => { events.push('two') })
    expect(events).toEqual(['one start', 'two'])
    gc.release()
    await gc.done
  })
})
