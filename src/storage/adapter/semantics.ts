/**
 * What the js-stores interfaces (interface-blockstore 7, interface-datastore
 * 10) mean, in the one place that knows it: a missing key throws
 * `NotFoundError` (from `get()` itself or from the first read of the
 * generator it returns), any method may answer synchronously or with a
 * promise, a block is read as a (sync or async) generator of byte pieces,
 * and `putMany`/`deleteMany` are lazy generators that do nothing until they
 * are drained.
 *
 * @module
 */

import { DdsError, StorageError, throwIfAborted } from '../../errors.js'
import type { AbortOptions } from '@libp2p/interface'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'

/** True for the `NotFoundError` of interface-store (matched by name and by its legacy code, so any copy of the package counts). */
export function isNotFound (err: unknown): boolean {
  const e = err as { name?: unknown, code?: unknown } | undefined
  return e?.name === 'NotFoundError' || e?.code === 'ERR_NOT_FOUND'
}

/**
 * Reads a whole block into one plain `Uint8Array` that the store does not
 * hold (a store may hand out its own memory, as MemoryBlockstore does; the
 * copy keeps a caller that writes into the array from changing the block).
 * Returns `undefined` when the block is not stored.
 */
export async function readBlock (blockstore: Blockstore, cid: CID, options?: AbortOptions): Promise<Uint8Array | undefined> {
  const pieces: Uint8Array[] = []
  let length = 0
  try {
    for await (const piece of blockstore.get(cid, options)) {
      pieces.push(piece)
      length += piece.byteLength
    }
  } catch (err) {
    if (isNotFound(err)) {
      return undefined
    }
    throw err
  }
  const bytes = new Uint8Array(length)
  let at = 0
  for (const piece of pieces) {
    bytes.set(piece, at)
    at += piece.byteLength
  }
  return bytes
}

/** Runs a lazy `putMany`/`deleteMany` generator to its end. */
export async function drain (source: Iterable<unknown> | AsyncIterable<unknown>): Promise<void> {
  for await (const item of source) {
    void item
  }
}

/**
 * Turns what a store threw into the error DDS reports: the caller's abort
 * (`AbortError`/`TimeoutError`) when its signal aborted, DDS errors as they
 * are, anything else a `StorageError` naming the store and the operation.
 */
export function storeError (err: unknown, store: string, what: string, options?: AbortOptions): Error {
  throwIfAborted(options?.signal, `storage ${what}`)
  if (err instanceof DdsError) {
    return err
  }
  const message = err instanceof Error ? err.message : String(err)
  return new StorageError(`${what} failed on the ${store}: ${message}`, { cause: err })
}
