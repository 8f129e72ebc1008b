import { abortReason, throwIfAborted } from '../errors.js'

/**
 * Settles like `promise`, or rejects with the DDS error for `signal`'s reason
 * (`TimeoutError` or `AbortError`) as soon as the signal aborts, whichever
 * comes first. `promise` itself is not cancelled: whatever it holds is left
 * to its own signal.
 */
export async function raceSignal<T> (promise: Promise<T>, signal: AbortSignal | undefined, what: string): Promise<T> {
  if (signal == null) {
    return promise
  }
  throwIfAborted(signal, what)
  let onAbort: (() => void) | undefined
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => { reject(abortReason(signal, what)) }
    signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([promise, aborted])
  } finally {
    signal.removeEventListener('abort', onAbort!)
  }
}

/**
 * Runs async tasks one at a time, in the order they were queued. A task whose
 * signal aborted while it waited for its turn is not run (it rejects with the
 * signal's DDS error); a failed task does not stop the queue.
 */
export class SerialQueue {
  private tail: Promise<void> = Promise.resolve()

  async run<T> (task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const previous = this.tail
    let done!: () => void
    this.tail = new Promise<void>(resolve => { done = resolve })
    try {
      // Our turn comes when the previous task settles, even if we give up earlier:
      // the queue stays in order because `done` only fires after `previous`.
      await raceSignal(previous, signal, 'a queued task')
      throwIfAborted(signal, 'a queued task')
      return await task()
    } finally {
      previous.then(done, done)
    }
  }
}
