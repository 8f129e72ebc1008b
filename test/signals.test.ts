import { describe, it, expect, beforeEach, afterEach, vi } from 'vitest'
import { deadlineSignal } from '../src/signals.js'
import { abortReason } from '../src/errors.js'

describe('deadlineSignal', () => {
  // the deadline's timer runs on a fake clock: exact, and no waiting
  beforeEach(() => { vi.useFakeTimers() })
  afterEach(() => { vi.useRealTimers() })

  it('aborts with the parent, with the parent\'s reason', () => {
    const parent = new AbortController()
    const d = deadlineSignal(parent.signal, 60_000)
    const reason = new Error('caller gave up')
    parent.abort(reason)
    expect(d.signal.aborted).toBe(true)
    expect(d.signal.reason).toBe(reason)
    expect(d.timedOut).toBe(false)
    d.clear()
  })

  it('aborts at its deadline with a TimeoutError, which DDS reports as TimeoutError', async () => {
    const parent = new AbortController()
    const d = deadlineSignal(parent.signal, 20)
    vi.advanceTimersByTime(19)
    expect(d.signal.aborted).toBe(false)
    vi.advanceTimersByTime(1)
    expect(d.signal.aborted).toBe(true)
    expect(d.timedOut).toBe(true)
    expect((d.signal.reason as Error).name).toBe('TimeoutError')
    expect(abortReason(d.signal, 'the request')).toMatchObject({ name: 'TimeoutError', message: 'the request timed out' })
    // the parent aborting later changes nothing
    parent.abort(new Error('late'))
    expect((d.signal.reason as Error).name).toBe('TimeoutError')
  })

  it('after clear() neither the deadline nor the parent aborts it', async () => {
    const parent = new AbortController()
    const d = deadlineSignal(parent.signal, 20)
    d.clear()
    expect(vi.getTimerCount()).toBe(0)
    vi.advanceTimersByTime(60)
    parent.abort(new Error('after clear'))
    expect(d.signal.aborted).toBe(false)
  })

  it('abort() cancels: aborted, not timed out, and the timer is gone', async () => {
    const d = deadlineSignal(undefined, 20)
    const reason = new Error('another peer answered first')
    d.abort(reason)
    expect(d.signal.aborted).toBe(true)
    expect(d.signal.reason).toBe(reason)
    expect(vi.getTimerCount()).toBe(0)
    vi.advanceTimersByTime(60)
    expect(d.timedOut).toBe(false)
    expect(d.signal.reason).toBe(reason)
  })

  it('is aborted at once under a parent that aborted already, and without a deadline never times out', async () => {
    const reason = new Error('already')
    const early = deadlineSignal(AbortSignal.abort(reason), 10)
    expect(early.signal.aborted).toBe(true)
    expect(early.signal.reason).toBe(reason)
    const open = deadlineSignal(new AbortController().signal)
    expect(vi.getTimerCount()).toBe(0)
    vi.advanceTimersByTime(24 * 60 * 60 * 1000)
    expect(open.signal.aborted).toBe(false)
    open.clear()
  })
})
