/**
 * CAR files: a content's blocks (its manifest, the nodes of a manifest tree
 * and every chunk) as one CARv1 stream, and back. The chunks are IPFS raw
 * leaves (CIDv1, raw, sha2-256), so IPFS tools read them from an exported
 * CAR as they are; the manifest is a raw block to them.
 *
 * - Export reads from the local store only: content this node does not hold
 *   whole is a `NotFoundError` before any byte is written (pin it first).
 * - Import verifies every block against its CID, checks that each root is a
 *   DDS manifest whose every block is then in the store, and only then pins
 *   and announces the roots, as a publish does.
 *
 * @module
 */

import type { AbortOptions, ComponentLogger } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import type { ProgressEvent, ProgressOptions } from 'progress-events'
import type { Announcer } from '../announce/index.js'
import type { ReplicationManager } from '../replication/index.js'
import type { StorageProvider } from '../storage/index.js'
import { numberOption } from '../options.js'
import { DdsCar } from './car.js'
import type { CarSource } from './decode.js'
import { DEFAULT_EXPORT_READ_AHEAD } from './constants.js'

export { CAR_MEDIA_TYPE, DEFAULT_EXPORT_READ_AHEAD, MAX_CAR_ROOTS, MAX_CAR_SECTION_BYTES } from './constants.js'
export type { CarSource } from './decode.js'
export { carHeader } from './encode.js'

/** Progress events of `exportCar`: one per block written, with the totals so far. */
export type ExportCarProgressEvents = ProgressEvent<'dds:export:block', { blocks: number, bytes: number }>

/**
 * Progress events of `importCar`: one per block stored (totals so far), then
 * for each root once it is pinned (`stored`) and announced.
 */
export type ImportCarProgressEvents =
  | ProgressEvent<'dds:import:block', { blocks: number, bytes: number }>
  | ProgressEvent<'dds:import:stored', { cid: string, size: number, chunks: number }>
  | ProgressEvent<'dds:import:announced', { cid: string, peers: number }>

/** Options of `exportCar`. */
export interface ExportCarOptions extends AbortOptions, ProgressOptions<ExportCarProgressEvents> {
  /**
   * What to export: `'all'`, every block of the content the CID names (which
   * must be a manifest), or `'block'`, the one block the CID names, whatever
   * it is (a chunk too).
   *
   * @default 'all'
   */
  scope?: 'all' | 'block'
  /**
   * Write a chunk every time the content lists it (`true`), or once, at its
   * first place (`false`). Content with repeated chunks (runs of zeros, say)
   * is smaller without duplicates; with them, a reader can check the content
   * in one pass and drop each block once it has used it. Leaving them out
   * keeps the key of each block written (about 100 bytes per chunk).
   *
   * @default false
   */
  duplicates?: boolean
  /**
   * Check every block read from the store against its CID before it is
   * written (`true`), or write blocks as the store gives them (`false`).
   * Checking costs a SHA-256 of the content, about a third of the store's
   * read cost on LevelDB; without it a damaged store writes a damaged block,
   * which every reader of a CAR refuses (each block carries its CID), but
   * only when it reads it. Leave it on unless a reader verifies anyway and
   * the export's speed matters.
   *
   * @default true
   */
  verify?: boolean
}

/** Options of `importCar`. */
export interface ImportCarOptions extends AbortOptions, ProgressOptions<ImportCarProgressEvents> {}

/** What the CAR part needs from the node. */
export interface CarComponents {
  storage: Pick<StorageProvider, 'get' | 'has' | 'putMany'>
  /**
   * Pins what an import wrote (under the gc lock) and asks for copies, as
   * for a publish; tells an export whether content is pinned whole.
   */
  replication: Pick<ReplicationManager, 'pinWrittenMany' | 'replicate' | 'getPin'>
  announcer: Pick<Announcer, 'announcePublished'>
  /** Where imports log (as `dds:car`). @default nothing is logged */
  logger?: ComponentLogger
}

/** Options of the CAR part. */
export interface CarInit {
  /** Blocks an export reads from the store ahead of the one it writes. @default 8 */
  readAhead?: number
}

/** Exports and imports CAR files. */
export interface CarService {
  /** The CARv1 bytes of `cid`'s content from the local store (see `Dds.exportCar`). */
  export(cid: CID, options?: ExportCarOptions): AsyncGenerator<Uint8Array>
  /** Stores, verifies, pins and announces the content of a CAR; resolves to its roots (see `Dds.importCar`). */
  import(source: CarSource, options?: ImportCarOptions): Promise<string[]>
}

/** Creates the CAR part. */
export function carService (init: CarInit = {}): (components: CarComponents) => CarService {
  const readAhead = numberOption('car.readAhead', init.readAhead, DEFAULT_EXPORT_READ_AHEAD)
  return (components) => new DdsCar(components, readAhead)
}
