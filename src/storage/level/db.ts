/**
 * The LevelDB layout of a store: one database, keys and values as binary
 * views, and a sublevel per kind of record.
 *
 * ```
 * !blocks!<binary CID>   -> block bytes
 * !meta!stats            -> {"blocks":n,"bytes":n} (UTF-8 JSON)
 * !<name>!...            -> records of later modules, via LevelStorage.sublevel(name)
 * ```
 *
 * @module
 */

import { Level } from 'level'
import type { BatchOperation } from 'level'
import { BLOCKS_SUBLEVEL, META_SUBLEVEL } from '../constants.js'

/** The root database: binary keys, binary values. */
export type LevelRoot = Level<Uint8Array, Uint8Array>

/** One operation of a batch on the root database (use `sublevel` to aim it at a sublevel). */
export type LevelBatchOperation = BatchOperation<LevelRoot, Uint8Array, Uint8Array>

/** A sublevel of the store's database, with binary keys and values by default. */
export type LevelSublevel = ReturnType<typeof binarySublevel>

/** The open database and the sublevels the store itself uses. */
export interface LevelDb {
  root: LevelRoot
  blocks: LevelSublevel
  meta: LevelSublevel
}

/**
 * Creates the root database object. It is not opened here, but note that
 * abstract-level opens a database on its own shortly after construction, so
 * only construct it when the store is being opened.
 */
export function createDb (path: string): LevelDb {
  const root: LevelRoot = new Level<Uint8Array, Uint8Array>(path, { keyEncoding: 'view', valueEncoding: 'view' })
  return {
    root,
    blocks: binarySublevel(root, BLOCKS_SUBLEVEL),
    meta: binarySublevel(root, META_SUBLEVEL)
  }
}

/** A sublevel of `root` named `name` whose default encodings are binary views. */
export function binarySublevel (root: Level<Uint8Array, Uint8Array>, name: string) {
  return root.sublevel<Uint8Array, Uint8Array>(name, { keyEncoding: 'view', valueEncoding: 'view' })
}
