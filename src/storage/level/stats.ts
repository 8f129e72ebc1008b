/**
 * The persisted block and byte counters of a LevelDB store.
 *
 * Every write that adds or removes a block also rewrites the counters in the
 * same LevelDB batch, so after any crash the counters match the blocks. When
 * the record is missing or unreadable (a database written by something else),
 * `loadStats` counts the blocks once, streaming them, and saves the result.
 *
 * @module
 */

import { STATS_KEY } from '../constants.js'
import type { StorageStats } from '../index.js'
import type { LevelDb } from './db.js'

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** The key of the counters record in the meta sublevel. */
export const STATS_KEY_BYTES = encoder.encode(STATS_KEY)

/** Encodes counters as UTF-8 JSON. */
export function encodeStats (stats: StorageStats): Uint8Array {
  return encoder.encode(JSON.stringify({ blocks: stats.blocks, bytes: stats.bytes }))
}

/** Decodes counters, or returns `undefined` when the record is not valid. */
export function decodeStats (bytes: Uint8Array): StorageStats | undefined {
  try {
    const value = JSON.parse(decoder.decode(bytes))
    if (isCount(value?.blocks) && isCount(value?.bytes)) {
      return { blocks: value.blocks, bytes: value.bytes }
    }
  // no stats record yet (a new store) or an unreadable one: the counters are rebuilt from the blocks
  } catch {}
  return undefined
}

function isCount (value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0
}

/** Counts the stored blocks by streaming them (one value in memory at a time). */
export async function countBlocks (db: LevelDb): Promise<StorageStats> {
  const stats = { blocks: 0, bytes: 0 }
  for await (const value of db.blocks.values()) {
    stats.blocks++
    stats.bytes += value.byteLength
  }
  return stats
}

/** Reads the persisted counters; counts and saves them when they are missing or invalid. */
export async function loadStats (db: LevelDb, sync: boolean): Promise<StorageStats> {
  const saved = await db.meta.get(STATS_KEY_BYTES)
  const stats = saved == null ? undefined : decodeStats(saved)
  if (stats != null) {
    return stats
  }
  const counted = await countBlocks(db)
  await db.root.batch([
    { type: 'put', sublevel: db.meta, key: STATS_KEY_BYTES, value: encodeStats(counted) }
  ], { sync })
  return counted
}
