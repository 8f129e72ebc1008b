/**
 * `dds publish` and `dds get`: stream a file (or stdin) up to the daemon,
 * stream content down to a file (or stdout). Neither holds more than a
 * stream buffer of the content in memory.
 *
 * @module
 */

import { createWriteStream } from 'node:fs'
import { open, rename, rm, stat } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { Readable, type Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { ReadableStream as NodeReadableStream } from 'node:stream/web'
import { checkDescription } from '../manifest/describe.js'
import { CliError, UsageError, oneLine, systemErrorCode } from './errors.js'
import { createProgress } from './progress.js'
import { mediaTypeOf } from './media-types.js'
import { UPLOAD_READ_BYTES } from './constants.js'
import type { ApiClient } from './client.js'

/** What `POST /api/v1/publish` answers. */
export interface PublishResult {
  cid: string
  size: number
  chunks: number
}

export interface PublishInput {
  /** A file path, or `-` for stdin. */
  file: string
  name?: string
  mediaType?: string
  metadata: Array<[string, string]>
  progress: boolean
}

/**
 * Uploads a file or stdin to the daemon, which publishes it. The name
 * defaults to the file's base name and the media type to the one its
 * extension suggests.
 */
export async function publish (client: ApiClient, input: PublishInput): Promise<PublishResult> {
  const fromStdin = input.file === '-'
  const name = input.name ?? (fromStdin ? undefined : basename(input.file))
  const mediaType = input.mediaType ?? (name != null ? mediaTypeOf(name) : undefined)
  checkBeforeUpload(name, mediaType, input.metadata)
  let source: Readable
  let size: number | undefined
  if (fromStdin) {
    source = process.stdin
  } else {
    const handle = await openFile(input.file)
    size = (await handle.stat()).size
    source = handle.createReadStream({ highWaterMark: UPLOAD_READ_BYTES })
  }
  const params = new URLSearchParams()
  if (name != null) {
    params.set('name', name)
  }
  if (mediaType != null) {
    params.set('mediaType', mediaType)
  }
  for (const [key, value] of input.metadata) {
    params.append('meta', `${key}=${value}`)
  }
  const progress = createProgress('publish', size, input.progress)
  let sourceError: unknown
  source.once('error', (err) => { sourceError = err })
  const body = source.pipe(progress.counter)
  source.once('error', (err) => body.destroy(err))
  try {
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream' }
    if (size != null) {
      headers['content-length'] = String(size)
    }
    const response = await client.request(`/api/v1/publish?${params.toString()}`, {
      method: 'POST',
      headers,
      body: Readable.toWeb(body) as unknown as BodyInit,
      duplex: 'half',
      // a request that may follow a redirect keeps its whole body to send it
      // again; the daemon never redirects
      redirect: 'error'
    }).catch((err: unknown) => {
      if (sourceError != null) {
        throw new CliError(`cannot read ${fromStdin ? 'stdin' : input.file}: ${(sourceError as Error).message}`, { cause: sourceError })
      }
      const code = systemErrorCode(err)
      if (code === 'EPIPE' || code === 'ECONNRESET') {
        throw new CliError(`the daemon at ${client.url} closed the connection during the upload (it may have refused the content; its log may say why)`, { cause: err })
      }
      throw err
    })
    return await response.json() as PublishResult
  } finally {
    progress.stop()
    source.destroy()
  }
}

/**
 * Checks the name, media type and metadata by the rules the daemon applies,
 * so a bad value is reported before any byte is sent.
 */
function checkBeforeUpload (name: string | undefined, mediaType: string | undefined, metadata: Array<[string, string]>): void {
  const seen = new Set<string>()
  for (const [key] of metadata) {
    if (seen.has(key)) {
      throw new UsageError(`--meta ${key} is given twice`)
    }
    seen.add(key)
  }
  try {
    checkDescription({ name, mediaType, metadata: Object.fromEntries(metadata) })
  } catch (err) {
    throw new UsageError(oneLine((err as Error).message), { cause: err })
  }
}

async function openFile (path: string): Promise<import('node:fs/promises').FileHandle> {
  try {
    const info = await stat(path)
    if (info.isDirectory()) {
      throw new CliError(`${path} is a directory; dds publish takes one file (or - for stdin)`)
    }
    return await open(path, 'r')
  } catch (err) {
    if (err instanceof CliError) {
      throw err
    }
    if (systemErrorCode(err) === 'ENOENT') {
      throw new CliError(`file not found: ${path}`, { cause: err })
    }
    if (systemErrorCode(err) === 'EACCES') {
      throw new CliError(`permission denied: cannot read ${path}`, { cause: err })
    }
    throw new CliError(`cannot open ${path}: ${(err as Error).message}`, { cause: err })
  }
}

export interface GetInput {
  cid: string
  /** A file path; undefined or `-` for stdout. */
  output?: string
  progress: boolean
}

/**
 * Downloads content from the daemon's gateway (which verifies every chunk)
 * into a file or stdout. A file is written under a temporary name next to
 * it and renamed when complete, so a failed download leaves no partial file.
 * Resolves to the number of bytes written.
 */
export async function get (client: ApiClient, input: GetInput): Promise<number> {
  const toStdout = input.output == null || input.output === '-'
  const response = await client.request(`/dds/${encodeURIComponent(input.cid)}`, {}, input.cid)
  if (response.body == null) {
    throw new CliError(`the daemon sent no body for ${input.cid}`)
  }
  const length = Number(response.headers.get('content-length') ?? NaN)
  const progress = createProgress('get', Number.isFinite(length) ? length : undefined, input.progress)
  const body = Readable.fromWeb(response.body as unknown as NodeReadableStream<Uint8Array>)
  const partial = toStdout ? undefined : join(dirname(input.output!), `.${basename(input.output!)}.dds-partial-${process.pid}`)
  const sink: Writable = partial != null ? createWriteStream(partial, { flags: 'wx' }) : process.stdout
  try {
    await pipeline(body, progress.counter, sink, { end: partial != null })
    if (Number.isFinite(length) && progress.bytes !== length) {
      throw new CliError(`download of ${input.cid} ended after ${progress.bytes} of ${length} bytes`)
    }
    if (partial != null) {
      await rename(partial, input.output!)
    }
    return progress.bytes
  } catch (err) {
    if (partial != null) {
      await rm(partial, { force: true }).catch(() => {})
    }
    throw downloadError(err, input, client)
  } finally {
    progress.stop()
  }
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
  if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR' || code === 'ENOTDIR' || code === 'EBADF') {
    return new CliError(`cannot write ${target}: ${(err as Error).message}`, { cause: err })
  }
  if (code === 'ENOSPC') {
    return new CliError(`cannot write ${target}: no space left on the device`, { cause: err })
  }
  const connection = client.connectionError(err)
  return new CliError(`download of ${input.cid} failed: ${connection.message}`, { cause: err })
}
