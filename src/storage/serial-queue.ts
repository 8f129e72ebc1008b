/**
 * Runs async tasks one after another, in the order they were queued. The
 * LevelDB store runs its writes through one, so a write's presence check,
 * its batch and its counter update never interleave with another write.
 */
export class SerialQueue {
  #tail: Promise<void> = Promise.resolve()

  /** Queues `task`; resolves or rejects with its outcome. A failed task does not stop the queue. */
  async run<T> (task: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(task)
    this.#tail = result.then(() => {}, () => {})
    return await result
  }

  /** Resolves once every task queued so far has settled. */
  async drain (): Promise<void> {
    await this.#tail
  }
}
