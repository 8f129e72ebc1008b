/**
 * A map that keeps its most recently used entries: at most `maxEntries` of
 * them and, when entries have a weight, at most `maxWeight` in all. Reading
 * an entry makes it the most recent; the least recent go first.
 */
export class LruMap<K, V> {
  private readonly entries = new Map<K, V>()
  private readonly maxEntries: number
  private readonly maxWeight: number
  private readonly weigh: (value: V) => number
  private weight = 0

  constructor (maxEntries: number, options: { maxWeight?: number, weigh?: (value: V) => number } = {}) {
    this.maxEntries = maxEntries
    this.maxWeight = options.maxWeight ?? Infinity
    this.weigh = options.weigh ?? (() => 0)
  }

  get (key: K): V | undefined {
    const found = this.entries.get(key)
    if (found !== undefined) {
      this.entries.delete(key)
      this.entries.set(key, found)
    }
    return found
  }

  set (key: K, value: V): void {
    this.delete(key)
    this.entries.set(key, value)
    this.weight += this.weigh(value)
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= this.maxEntries && this.weight <= this.maxWeight) {
        break
      }
      this.delete(oldest)
    }
  }

  private delete (key: K): void {
    const found = this.entries.get(key)
    if (found !== undefined) {
      this.weight -= this.weigh(found)
      this.entries.delete(key)
    }
  }
}
