/**
 * A shared/exclusive lock: writers of new blocks (publish, pin and replica
 * fetches) hold it shared; garbage collection holds it exclusive, so it never
 * sweeps blocks whose pin is not written yet. Once a collection is waiting,
 * new writers wait behind it, so a steady stream of writes cannot starve it.
 */
export class GcLock {
  private shared = 0
  private exclusive = false
  private exclusiveWaiting = 0
  private waiters: Array<() => void> = []

  async withShared<T> (fn: () => Promise<T>): Promise<T> {
    while (this.exclusive || this.exclusiveWaiting > 0) {
      await this.wait()
    }
    this.shared++
    try {
      return await fn()
    } finally {
      this.shared--
      this.wake()
    }
  }

  async withExclusive<T> (fn: () => Promise<T>): Promise<T> {
    this.exclusiveWaiting++
    try {
      while (this.exclusive || this.shared > 0) {
        await this.wait()
      }
    } finally {
      this.exclusiveWaiting--
    }
    this.exclusive = true
    try {
      return await fn()
    } finally {
      this.exclusive = false
      this.wake()
    }
  }

  private async wait (): Promise<void> {
    await new Promise<void>(resolve => { this.waiters.push(resolve) })
  }

  private wake (): void {
    const waiters = this.waiters
    this.waiters = []
    waiters.forEach(resolve => { resolve() })
  }
}
