/** Signals for work done many times a second (one per block request). */

/** A signal with its own deadline, tied to a parent signal; see {@link deadlineSignal}. */
export interface DeadlineSignal {
  readonly signal: AbortSignal
  /** True once the deadline (not the parent) aborted the signal. */
  readonly timedOut: boolean
  /** Aborts the signal now (a cancellation: `timedOut` stays false). */
  abort(reason?: unknown): void
  /** Stops the timer and lets go of the parent; call it once the work is done. */
  clear(): void
}

/**
 * A signal that aborts when `parent` aborts (with the parent's reason) or,
 * with `ms`, once `ms` have passed (with a `TimeoutError` DOMException, as
 * `AbortSignal.timeout` does). It does the job of
 * `AbortSignal.any([parent, AbortSignal.timeout(ms)])` for one request at a
 * fraction of the cost: one controller, one timer and one listener, all
 * released by `clear()`, where `AbortSignal.any` and `AbortSignal.timeout`
 * register weak references and finalizers that the garbage collector must
 * track (~50 µs of CPU per request against ~3, measured here). Per-request
 * signals on the transfer path use this; `clear()` must be called.
 */
export function deadlineSignal (parent: AbortSignal | undefined, ms?: number): DeadlineSignal {
  const controller = new AbortController()
  let timer: ReturnType<typeof setTimeout> | undefined
  let timedOut = false
  const onParentAbort = (): void => { controller.abort(parent!.reason) }
  const clear = (): void => {
    clearTimeout(timer)
    parent?.removeEventListener('abort', onParentAbort)
  }
  if (parent?.aborted === true) {
    controller.abort(parent.reason)
  } else {
    parent?.addEventListener('abort', onParentAbort, { once: true })
    if (ms != null) {
      timer = setTimeout(() => {
        timedOut = true
        parent?.removeEventListener('abort', onParentAbort)
        controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'))
      }, ms)
      timer.unref?.()
    }
  }
  return {
    signal: controller.signal,
    get timedOut () { return timedOut },
    abort: (reason?: unknown) => {
      clear()
      controller.abort(reason)
    },
    clear
  }
}
