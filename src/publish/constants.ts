/** StoreChunk requests in flight to one seed peer during a publish. */
export const DEFAULT_SEED_CONCURRENCY = 8
