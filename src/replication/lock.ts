/**
 * A shared/exclusive lock: writers of new blocks (publish, pin and replica
 * fetches) hold it shared; garbage collection holds it exclusive, so it never
 * sweeps blocks whose pin is not written yet.
 */
export class GcLock {
  private shared = 0
  private exclusive = false
  private waiters: Array<() => void> = []

  async withShared<T> (fn: () => Promise<T>): Promise<T> {
    while (this.exclusive) {
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
    while (this.exclusive || this.shared > 0) {
      await this.wait()
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
