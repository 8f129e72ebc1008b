/**
 * `dds export` and `dds import`: CAR files through the daemon's gateway.
 * Export asks the trustless route (`GET /ipfs/<cid>?format=car`), which
 * writes the CAR from the daemon's store; import streams a file (or stdin)
 * to `POST /api/v1/import`. Neither holds more than a stream buffer of the
 * CAR in memory.
 *
 * @module
 */

import { createWriteStream } from 'node:fs'
import { rename, rm, stat } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { ReadableStream as NodeReadableStream } from 'node:stream/web'
import { CliError, UsageError, oneLine, systemErrorCode } from './errors.js'
import { createProgress } from './progress.js'
import { upload } from './transfer.js'
import type { ApiClient } from './client.js'

export interface ExportInput {
  cid: string
  /** A file to write, `-` or undefined for stdout. */
  output?: string
  /** Write the CAR to a terminal. */
  force: boolean
  progress: boolean
}

export interface ExportResult {
  cid: string
  /** Bytes of the CAR. */
  bytes: number
  /** The file written; absent for stdout. */
  path?: string
}

/** Where a CAR is written until it is whole: a hidden name beside the file. */
export function partialCarPath (path: string): string {
  return join(dirname(path), `.${basename(path).slice(0, 120)}.dds-partial`)
}

/**
 * Writes the CAR of `cid` to a file or stdout. A file is written under a
 * hidden partial name and renamed once the CAR has come whole (the daemon
 * ends the response early if it cannot finish it), so no file appears
 * under the name unless it holds the whole CAR.
 */
export async function exportCar (client: ApiClient, input: ExportInput): Promise<ExportResult> {
  const toStdout = input.output == null || input.output === '-'
  if (toStdout && process.stdout.isTTY === true && !input.force) {
    throw new UsageError('refusing to write a CAR to a terminal; give -o FILE, redirect stdout (dds export CID > content.car), or pass --force')
  }
  if (!toStdout && await stat(input.output!).then(s => s.isDirectory(), () => false)) {
    throw new UsageError(`${input.output!} is a directory; give -o the CAR file to write, such as ${join(input.output!, `${input.cid}.car`)}`)
  }
  const response = await client.request(`/ipfs/${encodeURIComponent(input.cid)}?format=car`, { headers: { accept: 'application/vnd.ipld.car' } }, input.cid)
  if (response.body == null) {
    throw new CliError(`the daemon sent no body for ${input.cid}`)
  }
  const body = Readable.fromWeb(response.body as unknown as NodeReadableStream<Uint8Array>)
  const progress = createProgress('export', undefined, input.progress)
  try {
    if (toStdout) {
      await pipeline(body, progress.counter, process.stdout, { end: false }).catch((err: unknown) => { throw failed(err, input, client) })
      return { cid: input.cid, bytes: progress.bytes }
    }
    const path = input.output!
    const partial = partialCarPath(path)
    try {
      // flush: the file is synced to the disk before it is closed and renamed
      await pipeline(body, progress.counter, createWriteStream(partial, { flush: true }))
      await rename(partial, path)
    } catch (err) {
      await rm(partial, { force: true }).catch(() => {})
      throw failed(err, input, client)
    }
    return { cid: input.cid, bytes: progress.bytes, path }
  } finally {
    progress.stop()
  }
}

function failed (err: unknown, input: ExportInput, client: ApiClient): unknown {
  if (err instanceof CliError) {
    return err
  }
  const code = systemErrorCode(err)
  if (code === 'EPIPE') {
    return err // the reader of stdout went away: not worth a message
  }
  if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR' || code === 'ENOTDIR' || code === 'ENOSPC') {
    return writeError(err, input.output ?? 'stdout')
  }
  return new CliError(`export of ${input.cid} failed: ${client.connectionError(err).message}; the daemon ended the CAR early, so nothing was kept`, { cause: err })
}

function writeError (err: unknown, path: string): CliError {
  if (systemErrorCode(err) === 'ENOSPC') {
    return new CliError(`cannot write ${path}: no space left on the device`, { cause: err })
  }
  return new CliError(`cannot write ${path}: ${oneLine((err as Error).message)}`, { cause: err })
}

/** What `POST /api/v1/import` answers. */
export interface ImportResult {
  roots: string[]
  blocks: number
  bytes: number
}

export interface ImportInput {
  /** A CAR file, or `-` for stdin. */
  file: string
  progress: boolean
}

/**
 * Streams a CAR file (or stdin) to the daemon, which verifies every block,
 * checks that each root's content is whole, and pins it.
 */
export async function importCar (client: ApiClient, input: ImportInput): Promise<ImportResult> {
  return upload<ImportResult>(client, {
    file: input.file,
    progress: input.progress,
    command: 'import',
    takes: 'one CAR file',
    path: '/api/v1/import',
    contentType: 'application/vnd.ipld.car'
  })
}
