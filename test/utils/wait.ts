/**
 * Waiting in tests: poll a condition until it holds, never sleep a fixed
 * time. Deadlines are generous because the suite runs on a loaded 2-core
 * machine; a passing test does not wait them out, it returns as soon as the
 * condition holds.
 */

/** How long a single wait may take before the test fails. */
export const WAIT_MS = 30_000

/**
 * Polls `check` every `intervalMs` until it returns true; throws after `ms`
 * with `what` in the message, so a failure says which condition never came.
 * An error thrown by `check` fails the wait at once.
 */
export async function waitFor (check: () => boolean | Promise<boolean>, what: string, ms = WAIT_MS, intervalMs = 20): Promise<void> {
  const deadline = Date.now() + ms
  for (;;) {
    if (await check()) {
      return
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    }
    await new Promise(resolve => setTimeout(resolve, intervalMs))
  }
}

/** Polls `get` until it returns a value other than undefined, and returns it. */
export async function waitForValue <T> (get: () => T | undefined | Promise<T | undefined>, what: string, ms = WAIT_MS): Promise<T> {
  let value: T | undefined
  await waitFor(async () => { value = await get(); return value !== undefined }, what, ms)
  return value as T
}

/** Resolves when `signal` aborts (e.g. `AbortSignal.timeout(ms)`, the clock a deadline under test also uses). */
export async function whenAborted (signal: AbortSignal): Promise<void> {
  if (signal.aborted) {
    return
  }
  await new Promise<void>(resolve => { signal.addEventListener('abort', () => { resolve() }, { once: true }) })
}
