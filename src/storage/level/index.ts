/**
 * The LevelDB block store (`level`, i.e. classic-level on Node.js).
 *
 * @module
 */

import { resolve } from 'node:path'
import { InvalidInputError } from '../../errors.js'
import { DEFAULT_LEVEL_SYNC } from '../constants.js'
import { LevelStorage } from './level-storage.js'
import type { StorageProvider } from '../index.js'
import type { RecordStore } from '../records.js'
import type { LevelSublevel } from './db.js'

export type { LevelSublevel }

/** Options of `levelStorage`. */
export interface LevelStorageInit {
  /**
   * Directory of the database. Created, with its parents, when the store
   * opens. Only one store (in any process) may have it open at a time.
   */
  path: string

  /**
   * Whether every write is fsynced before its promise resolves.
   *
   * - `false`: a resolved `put`/`putMany`/`delete` has been written to
   *   LevelDB's log with `write(2)`, so it survives the process crashing or
   *   being killed (SIGKILL), but not necessarily an OS crash or power loss.
   * - `true`: it has also been fsynced, so it survives an OS crash or power
   *   loss too, at a large cost in write throughput.
   *
   * @default false (DEFAULT_LEVEL_SYNC)
   */
  sync?: boolean
}

/** The LevelDB store: a `StorageProvider` plus access to its database for later modules. */
export interface LevelStorageProvider extends StorageProvider {
  readonly kind: 'level'

  /** The absolute path of the database directory. */
  readonly path: string

  /** The record table `name`: the sublevel `name` (see `sublevel`). */
  records(name: string): RecordStore

  /**
   * A sublevel of the store's database, named `name`, with binary keys and
   * values by default (pass `keyEncoding`/`valueEncoding` per operation to
   * change that). Other modules keep their records here (pins, metadata) so
   * they live in the same database as the blocks, and can be written
   * atomically with other sublevels through the sublevel's `db.batch()` with
   * the `sublevel` option. Its records never show up in `list()` or
   * `stats()`.
   *
   * The store must be open. `blocks` and `meta` are reserved.
   *
   * @throws {StorageError} before `open()` has resolved, or after `close()`
   * @throws {InvalidInputError} for a reserved name or one that contains `!` or non-ASCII characters
   */
  sublevel(name: string): LevelSublevel
}

/**
 * Creates a block store in a LevelDB directory.
 *
 * - Layout: blocks live in the `blocks` sublevel keyed by their binary CID;
 *   the block and byte counters live in the `meta` sublevel (see `db.ts`).
 * - `stats()` reads counters that every write updates in the same atomic
 *   batch as the blocks, so it costs nothing and never scans the store.
 *   Writes run one at a time (LevelDB serialises them anyway) so that the
 *   "is it already stored?" check and the counter update cannot race.
 * - `putMany` is one LevelDB batch: after a crash all of its blocks are
 *   present or none is.
 * - `list()` streams keys from a LevelDB iterator; it never holds them all.
 * - Every operation opens the store if `open()` was not called yet. Opening
 *   a directory that another process or store holds rejects with a
 *   `StorageError` that names the path. After `close()` every call rejects
 *   with `StorageError`; create a new store to open the directory again.
 * - Bytes passed to `put`/`putMany` must not change until the call resolves.
 *
 * @throws {InvalidInputError} when `path` is not a non-empty string
 */
export function levelStorage (init: LevelStorageInit): LevelStorageProvider {
  if (typeof init?.path !== 'string' || init.path.trim().length === 0) {
    throw new InvalidInputError('levelStorage needs a directory path, e.g. { path: "./dds-data" }')
  }
  if (init.sync != null && typeof init.sync !== 'boolean') {
    throw new InvalidInputError('levelStorage: sync must be true or false')
  }
  return new LevelStorage(resolve(init.path), init.sync ?? DEFAULT_LEVEL_SYNC)
}
