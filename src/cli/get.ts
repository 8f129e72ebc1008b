/**
 * `dds get`: content from the daemon's gateway (which verifies every chunk)
 * into a file or stdout.
 *
 * A file is written under a hidden partial name next to it,
 * `.<name>.<cid>.dds-partial`, and renamed when complete, so no file ever
 * appears under the final name unless it holds the whole, verified content.
 * An interrupted download (Ctrl-C, SIGTERM, a lost connection, a killed
 * process) keeps its partial file, and the next `get` of the same CID to
 * the same file resumes it: the kept bytes are checked against the chunk
 * CIDs of the manifest, only the rest is asked for (an HTTP Range request),
 * and the whole file is checked against the content's SHA-256 at the end.
 * With `--no-resume` a partial file is removed instead, and one an earlier
 * run left is discarded.
 *
 * A collection (a folder, an album) is written as the tree it lists, into
 * the folder `-o` names (by default one named after the collection in the
 * current directory), each file as above. Every path from the list is
 * checked before anything is written: one that would leave the folder
 * (`..`, an absolute path) is refused, and so are two paths that would be
 * one file where the folder's file system ignores case (`A.flac` and
 * `a.flac`).
 *
 * @module
 */

import { createHash, type Hash } from 'node:crypto'
import { mkdir, open, rename, rm, stat, type FileHandle } from 'node:fs/promises'
import { basename, dirname, join, resolve, sep } from 'node:path'
import { checkPath } from '../manifest/collection.js'
import { Readable, Transform, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { ReadableStream as NodeReadableStream } from 'node:stream/web'
import { CliError, UsageError, oneLine, systemErrorCode } from './errors.js'
import { exists, foldedCollision, ignoresCase } from './folder-paths.js'
import { formatBytes } from './format.js'
import { createProgress } from './progress.js'
import { chunkList, verifyKept, type ContentFacts, type Kept } from './resume.js'
import type { ApiClient } from './client.js'

export interface GetInput {
  cid: string
  /** A file path, a directory (the file is named after the content in it), `-` for stdout, or undefined: stdout when it is not a terminal, else a file named after the content. */
  output?: string
  /** Overwrite a file saved under the content's name; write to a terminal. */
  force: boolean
  /** Keep the partial file of an interrupted download, and resume one. */
  resume: boolean
  progress: boolean
}

export interface GetResult {
  cid: string
  /** Bytes of the content. */
  size: number
  /** The file written; absent for stdout. */
  path?: string
  /** Bytes this run received from the daemon. */
  fetched: number
  /** Bytes kept from an earlier, interrupted run (each chunk checked against its CID). */
  kept: number
}

/** Exit code of a command ended by a signal: 128 + its number, as a shell reports it. */
const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 }

/** The signal that interrupted a download. */
class Interrupted extends Error {
  static override name = 'Interrupted'
  override name = 'Interrupted'
  readonly signal: NodeJS.Signals

  constructor (signal: NodeJS.Signals) {
    super(`interrupted by ${signal}`)
    this.signal = signal
  }
}

/** A resumed file whose chunks all matched their CIDs but whose whole does not match the content's SHA-256. */
class ResumedDigestError extends CliError {
  static override name = 'ResumedDigestError'
  override name = 'ResumedDigestError'
}

/** The signal that ended a download, if one did. */
function interruptedBy (signal: AbortSignal): Interrupted | undefined {
  return signal.aborted && signal.reason instanceof Interrupted ? signal.reason : undefined
}

function interruptedError (cid: string, interrupted: Interrupted, detail: string): CliError {
  return new CliError(`download of ${cid} interrupted${detail}`, { exitCode: SIGNAL_EXIT[interrupted.signal] ?? 1 })
}

/**
 * Downloads content to a file or stdout; see the module comment for how a
 * file is written and resumed.
 */
export async function get (client: ApiClient, input: GetInput): Promise<GetResult> {
  const controller = new AbortController()
  let signals = 0
  const onSignal = (signal: NodeJS.Signals): void => {
    // a second Ctrl-C does not wait for the clean-up of the first
    if (++signals > 1) {
      process.exit(SIGNAL_EXIT[signal] ?? 1)
    }
    controller.abort(new Interrupted(signal))
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    if (input.output !== '-') {
      const described = await client.json<{ name?: string, collection?: { entries: number, size: number } }>('GET', `/api/v1/stat/${encodeURIComponent(input.cid)}?local=0`, input.cid)
      if (described.collection != null) {
        return await toFolder(client, input, described.name, controller.signal)
      }
    }
    const path = await target(client, input)
    return path == null
      ? await toStdout(client, input, controller.signal)
      : await toFile(client, input, path, controller.signal)
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}

/**
 * The file to write, or undefined for stdout. Without `-o`, content goes to
 * stdout when that is a pipe or a file, and to a file named after the
 * content in the current directory when stdout is a terminal (binary would
 * garble it). `-o DIRECTORY` saves under the content's name in that
 * directory, by the same rules.
 */
async function target (client: ApiClient, input: GetInput): Promise<string | undefined> {
  if (input.output === '-') {
    if (process.stdout.isTTY === true && !input.force) {
      throw new UsageError('refusing to write content to a terminal; give -o FILE, redirect stdout (dds get CID > FILE), or pass --force')
    }
    return undefined
  }
  if (input.output != null && !await isDirectory(input.output)) {
    return input.output
  }
  if (input.output == null && process.stdout.isTTY !== true) {
    return undefined
  }
  const described = await client.json<{ name?: string }>('GET', `/api/v1/stat/${encodeURIComponent(input.cid)}`, input.cid)
  const name = join(input.output ?? '', fileName(described.name) ?? input.cid)
  if (!input.force && await exists(name)) {
    throw new CliError(`${name} already exists; pass --force to overwrite it, or -o FILE to save under another name`)
  }
  return name
}

/**
 * Writes a collection's tree into a folder: `-o DIR`, or a folder named
 * after the collection in the current directory. Each entry is a file
 * written (and resumed) as `toFile` does.
 */
async function toFolder (client: ApiClient, input: GetInput, name: string | undefined, signal: AbortSignal): Promise<GetResult> {
  const root = resolve(input.output ?? fileName(name) ?? input.cid)
  const listed = await client.json<{ entries: Array<{ path: string, cid: string, size: number }> }>('GET', `/api/v1/list/${encodeURIComponent(input.cid)}`, input.cid)
  // every path is checked before anything is written
  const files = listed.entries.map(entry => {
    let path: string
    try {
      path = resolve(root, ...checkPath(entry.path).split('/'))
    } catch (err) {
      throw new CliError(`refusing the collection ${input.cid}: ${(err as Error).message}`, { cause: err })
    }
    if (!path.startsWith(root + sep)) {
      throw new CliError(`refusing the collection ${input.cid}: its path "${entry.path}" leads out of ${root}`)
    }
    return { ...entry, file: path }
  })
  const collision = foldedCollision(files.map(entry => entry.path))
  if (collision != null && await ignoresCase(root)) {
    throw new CliError(`refusing to write the collection ${input.cid} into ${root}: "${collision[0]}" and "${collision[1]}" would be one file there, as its file system does not tell upper from lower case; write it to a file system that does, or get those entries one by one by their CIDs (dds list ${input.cid})`)
  }
  const result: GetResult = { cid: input.cid, size: 0, path: root, fetched: 0, kept: 0 }
  for (const entry of files) {
    if (!input.force && await exists(entry.file)) {
      throw new CliError(`${entry.file} already exists; pass --force to overwrite it, or -o DIR to write the collection elsewhere`)
    }
    await mkdir(dirname(entry.file), { recursive: true })
    const got = await toFile(client, { ...input, cid: entry.cid }, entry.file, signal)
    result.size += got.size
    result.fetched += got.fetched
    result.kept += got.kept
  }
  return result
}

async function isDirectory (path: string): Promise<boolean> {
  return stat(path).then(s => s.isDirectory(), () => false)
}

/**
 * A content's recorded name as a file name in the current directory, or
 * undefined when it cannot be one. The name comes from whoever published the
 * content: one with a path separator, a control character, a leading dot (a
 * hidden file, or `..`) or more than 255 bytes is not used.
 */
export function fileName (name: string | undefined): string | undefined {
  if (name == null || name === '' || name.startsWith('.') || Buffer.byteLength(name) > 255) {
    return undefined
  }
  // eslint-disable-next-line no-control-regex
  return /[/\\\u0000-\u001f\u007f]/.test(name) ? undefined : name
}

/** Where the download of `cid` to `path` is written until it is complete. */
export function partialPath (path: string, cid: string): string {
  return join(dirname(path), `.${basename(path).slice(0, 120)}.${cid}.dds-partial`)
}

async function toStdout (client: ApiClient, input: GetInput, signal: AbortSignal): Promise<GetResult> {
  const response = await client.request(`/dds/${encodeURIComponent(input.cid)}`, { signal }, input.cid)
  const length = contentLength(response)
  const progress = createProgress('get', length, input.progress)
  try {
    await pipeline(body(response, input.cid), progress.counter, process.stdout, { end: false, signal })
    checkLength(input.cid, progress.bytes, length)
    return { cid: input.cid, size: progress.bytes, fetched: progress.bytes, kept: 0 }
  } catch (err) {
    const interrupted = interruptedBy(signal)
    throw interrupted != null ? interruptedError(input.cid, interrupted, '') : downloadError(err, input, client)
  } finally {
    progress.stop()
  }
}

/** What one run of a download to a file did. */
interface FileRun {
  facts?: ContentFacts
  kept?: Kept
  /** Bytes at the start of the partial file that this run keeps. */
  offset: number
  fetched: number
}

async function toFile (client: ApiClient, input: GetInput, path: string, signal: AbortSignal): Promise<GetResult> {
  const partial = partialPath(path, input.cid)
  const file = await openPartial(partial, path)
  const run: FileRun = { offset: 0, fetched: 0 }
  let complete = false
  try {
    const found = (await file.stat()).size
    if (found > 0 && input.resume) {
      run.facts = await chunkList(client, input.cid, 0, 0)
      run.kept = await verifyKept(client, run.facts, file, found, signal)
      run.offset = run.kept.bytes
    }
    await file.truncate(run.offset)
    if (run.facts == null || run.offset < run.facts.size) {
      await download(client, input, file, run, signal)
    }
    const size = run.offset + run.fetched
    if (run.kept != null) {
      checkDigest(input.cid, run.facts!, run.kept.hash, size)
    }
    await file.sync()
    await file.close()
    await rename(partial, path)
    complete = true
    return { cid: input.cid, size, path, fetched: run.fetched, kept: run.offset }
  } catch (err) {
    throw await failed(err, input, client, partial, run, signal)
  } finally {
    if (!complete) {
      await file.close().catch(() => {})
    }
  }
}

/** Opens (or creates) the partial file, read-write, without truncating what an earlier run kept. */
async function openPartial (partial: string, path: string): Promise<FileHandle> {
  try {
    return await open(partial, 'r+')
  } catch (err) {
    if (systemErrorCode(err) !== 'ENOENT') {
      throw writeError(err, path)
    }
  }
  try {
    return await open(partial, 'w+')
  } catch (err) {
    throw writeError(err, path)
  }
}

/** Streams the content from `run.offset` on into the file. */
async function download (client: ApiClient, input: GetInput, file: FileHandle, run: FileRun, signal: AbortSignal): Promise<void> {
  const headers: Record<string, string> = run.offset > 0 ? { range: `bytes=${run.offset}-` } : {}
  const response = await client.request(`/dds/${encodeURIComponent(input.cid)}`, { headers, signal }, input.cid)
  if (run.offset > 0 && response.status !== 206) {
    // the whole content came: start over, from this answer
    run.offset = 0
    run.kept = { bytes: 0, hash: createHash('sha256') }
    await file.truncate(0)
  }
  const length = contentLength(response)
  const total = length != null ? run.offset + length : undefined
  const progress = createProgress('get', total, input.progress, run.offset)
  const sink = fileWriter(file, run.offset)
  try {
    await pipeline(body(response, input.cid), progress.counter, hashing(run.kept?.hash), sink, { signal })
  } finally {
    run.fetched = progress.bytes
    progress.stop()
  }
  checkLength(input.cid, progress.bytes, length)
}

/**
 * Writes a stream into an open file from `position` on, leaving the file
 * open (its owner syncs, closes and renames it).
 */
function fileWriter (file: FileHandle, position: number): Writable {
  let at = position
  return new Writable({
    write (chunk: Buffer, _encoding, callback) {
      void (async () => {
        for (let done = 0; done < chunk.byteLength;) {
          const { bytesWritten } = await file.write(chunk, done, chunk.byteLength - done, at)
          done += bytesWritten
          at += bytesWritten
        }
      })().then(() => { callback() }, callback)
    }
  })
}

/** Passes bytes through, adding them to `hash` (when there is one). */
function hashing (hash: Hash | undefined): Transform {
  return new Transform({
    transform (chunk: Buffer, _encoding, callback) {
      hash?.update(chunk)
      callback(null, chunk)
    }
  })
}

function body (response: Response, cid: string): Readable {
  if (response.body == null) {
    throw new CliError(`the daemon sent no body for ${cid}`)
  }
  return Readable.fromWeb(response.body as unknown as NodeReadableStream<Uint8Array>)
}

function contentLength (response: Response): number | undefined {
  const length = Number(response.headers.get('content-length') ?? NaN)
  return Number.isFinite(length) ? length : undefined
}

function checkLength (cid: string, received: number, length: number | undefined): void {
  if (length != null && received !== length) {
    throw new CliError(`download of ${cid} ended after ${received} of ${length} bytes`)
  }
}

/** A resumed file is checked whole: the daemon checks the SHA-256 only of content it sends whole. */
function checkDigest (cid: string, facts: ContentFacts, hash: Hash, size: number): void {
  if (size !== facts.size || hash.digest('hex') !== facts.sha256) {
    throw new ResumedDigestError(`the resumed download of ${cid} does not match the content's SHA-256 (every chunk matched its CID, so the manifest and the chunks disagree); the partial file was removed`)
  }
}

/**
 * The error a download to a file ends with, once its partial file is dealt
 * with: kept when resuming is on and it holds bytes (a later run checks
 * them), else removed.
 */
async function failed (err: unknown, input: GetInput, client: ApiClient, partial: string, run: FileRun, signal: AbortSignal): Promise<unknown> {
  const held = run.offset + run.fetched
  const keep = input.resume && held > 0 && !(err instanceof ResumedDigestError)
  if (!keep) {
    await rm(partial, { force: true }).catch(() => {})
  }
  const after = keep
    ? `; the ${formatBytes(held)} received so far are kept in ${partial}, and the same command resumes from there (--no-resume discards them)`
    : ''
  const interrupted = interruptedBy(signal)
  if (interrupted != null) {
    return interruptedError(input.cid, interrupted, keep ? after : '; nothing was kept')
  }
  const error = downloadError(err, input, client)
  if (error instanceof CliError && after !== '') {
    return new CliError(`${error.message}${after}`, { cause: err, exitCode: error.exitCode })
  }
  return error
}

function writeError (err: unknown, path: string): CliError {
  const code = systemErrorCode(err)
  if (code === 'ENOSPC') {
    return new CliError(`cannot write ${path}: no space left on the device`, { cause: err })
  }
  return new CliError(`cannot write ${path}: ${oneLine((err as Error).message)}`, { cause: err })
}

function downloadError (err: unknown, input: GetInput, client: ApiClient): unknown {
  if (err instanceof CliError) {
    return err
  }
  const code = systemErrorCode(err)
  if (code === 'EPIPE') {
    return err // stdout was closed by the reader (e.g. `| head`): not an error worth a message
  }
  const target = input.output == null || input.output === '-' ? 'to stdout' : input.output
  if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR' || code === 'ENOTDIR' || code === 'EBADF' || code === 'ENOSPC') {
    return writeError(err, target)
  }
  const connection = client.connectionError(err)
  return new CliError(`download of ${input.cid} failed: ${connection.message}`, { cause: err })
}
