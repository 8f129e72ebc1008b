/**
 * A shared/exclusive lock: writers of new blocks (publish, pin and replica
 * fetches) hold it shared; garbage collection holds it exclusive, so it never
 * sweeps blocks whose pin is not written yet. Once a collection is waiting,
 * new writers wait behind it, so a steady stream of writes cannot starve it.
 * When it is done, every writer that waited starts at once.
 *
 * Not mortice (Helia's gc lock): mortice 3.3 (on it-queue 1.1) also makes
 * readers wait behind a waiting writer, but starts the readers that waited
 * one at a time, each only when the one before it releases; a publish queued
 * behind a gc would then wait for a whole replica fetch queued before it.
 * test/replication/lock.test.ts holds this lock to both orders.
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
