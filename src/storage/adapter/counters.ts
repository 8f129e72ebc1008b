import { COUNTERS_RECORD } from '../constants.js'
import type { StorageStats } from '../index.js'
import type { RecordStore } from '../records.js'

/**
 * A write a crash may have cut short: the blocks it adds (`put`, only blocks
 * that were absent) or removes (`delete`), each with its size.
 */
export interface PendingWrite {
  op: 'put' | 'delete'
  blocks: Array<[cid: string, size: number]>
}

/** The counters record: totals, and the write in progress when there is one. */
export interface CountersRecord extends StorageStats {
  pending?: PendingWrite
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/**
 * The block and byte counters of a blockstore, kept in a record of the
 * datastore beside it. A blockstore write and a datastore write cannot be
 * one atomic batch, so every write is bracketed: the record first names the
 * blocks the write adds or removes (`pending`), then the blockstore is
 * written, then the record gets the new totals. After a crash the record
 * still names the interrupted write, and `settle` finds out which of its
 * blocks made it, so the counters come out exact without a scan of the
 * store.
 */
export class Counters {
  private readonly records: RecordStore

  constructor (records: RecordStore) {
    this.records = records
  }

  /** The saved record, or `undefined` when there is none or it is unreadable. */
  async load (): Promise<CountersRecord | undefined> {
    const saved = await this.records.get(COUNTERS_RECORD)
    return saved == null ? undefined : decodeCounters(saved)
  }

  async save (record: CountersRecord): Promise<void> {
    await this.records.put(COUNTERS_RECORD, encoder.encode(JSON.stringify(record)))
  }
}

/**
 * The totals once `pending` is accounted for: `present(cid)` says whether a
 * block of it is in the store now.
 */
export async function settle (totals: StorageStats, pending: PendingWrite, present: (cids: string[]) => Promise<boolean[]>): Promise<StorageStats> {
  const found = await present(pending.blocks.map(([cid]) => cid))
  const next = { ...totals }
  pending.blocks.forEach(([, size], i) => {
    // a put counts the blocks that arrived; a delete the blocks that went
    if (pending.op === 'put' && found[i] === true) {
      next.blocks++
      next.bytes += size
    } else if (pending.op === 'delete' && found[i] !== true) {
      next.blocks--
      next.bytes -= size
    }
  })
  return { blocks: Math.max(0, next.blocks), bytes: Math.max(0, next.bytes) }
}

/** Decodes a counters record, or returns `undefined` when it is not valid. */
export function decodeCounters (bytes: Uint8Array): CountersRecord | undefined {
  try {
    const value = JSON.parse(decoder.decode(bytes))
    if (!isCount(value?.blocks) || !isCount(value?.bytes)) {
      return undefined
    }
    const record: CountersRecord = { blocks: value.blocks, bytes: value.bytes }
    const pending = value.pending
    if (pending != null) {
      if ((pending.op !== 'put' && pending.op !== 'delete') || !Array.isArray(pending.blocks) ||
        !pending.blocks.every((entry: unknown) => Array.isArray(entry) && typeof entry[0] === 'string' && isCount(entry[1]))) {
        return undefined
      }
      record.pending = { op: pending.op, blocks: pending.blocks }
    }
    return record
  // an unreadable record is counted again from the blocks
  } catch {}
  return undefined
}

function isCount (value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0
}
