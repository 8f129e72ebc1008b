/**
 * `dds publish`: stream a file (or stdin) up to the daemon, holding no more
 * than a stream buffer of it in memory. (`dds get` is in get.ts.)
 *
 * @module
 */

import { open, stat } from 'node:fs/promises'
import { basename } from 'node:path'
import { Readable } from 'node:stream'
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
  return upload<PublishResult>(client, {
    file: input.file,
    progress: input.progress,
    command: 'publish',
    takes: 'one file',
    path: `/api/v1/publish?${params.toString()}`,
    contentType: 'application/octet-stream'
  })
}

/** What `upload` sends, and where. */
export interface UploadInput {
  /** A file path, or `-` for stdin. */
  file: string
  progress: boolean
  /** The command, for the progress bar and messages: `publish`, `import`. */
  command: string
  /** What the command takes, for the message about a directory: "one file". */
  takes: string
  /** The API path to POST to. */
  path: string
  contentType: string
}

/**
 * Streams a file (or stdin) as the body of a POST to the daemon's API, with
 * a progress bar, holding no more than a stream buffer of it; answers the
 * daemon's JSON.
 */
export async function upload <T> (client: ApiClient, input: UploadInput): Promise<T> {
  const fromStdin = input.file === '-'
  let source: Readable
  let size: number | undefined
  if (fromStdin) {
    source = process.stdin
  } else {
    const handle = await openFile(input.file, `dds ${input.command} takes ${input.takes} (or - for stdin)`)
    size = (await handle.stat()).size
    source = handle.createReadStream({ highWaterMark: UPLOAD_READ_BYTES })
  }
  const progress = createProgress(input.command, size, input.progress)
  let sourceError: unknown
  source.once('error', (err) => { sourceError = err })
  const body = source.pipe(progress.counter)
  source.once('error', (err) => body.destroy(err))
  try {
    const headers: Record<string, string> = { 'content-type': input.contentType }
    if (size != null) {
      headers['content-length'] = String(size)
    }
    const response = await client.request(input.path, {
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
    return await response.json() as T
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

async function openFile (path: string, takes: string): Promise<import('node:fs/promises').FileHandle> {
  try {
    const info = await stat(path)
    if (info.isDirectory()) {
      throw new CliError(`${path} is a directory; ${takes}`)
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
    throw new CliError(`cannot open ${path}: ${oneLine((err as Error).message)}`, { cause: err })
  }
}
