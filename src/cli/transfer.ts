/**
 * `dds publish`: stream a file (or stdin) up to the daemon, holding no more
 * than a stream buffer of it in memory. (`dds get` is in get.ts.)
 *
 * @module
 */

import { createReadStream } from 'node:fs'
import { open, readdir, stat } from 'node:fs/promises'
import { basename, join, resolve } from 'node:path'
import { Readable } from 'node:stream'
import { checkDescription } from '../manifest/describe.js'
import { checkPath } from '../manifest/collection.js'
import { ENTRIES_MEDIA_TYPE, entryHeader } from '../gateway/entries.js'
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
  if (input.file !== '-' && await isDirectory(input.file)) {
    return publishFolder(client, input)
  }
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

/**
 * Publishes a folder as a collection: every file under it (symbolic links
 * and other non-files are skipped), in path order, streamed to the daemon
 * one after another (see the gateway's `entries.ts`); prints its CID.
 */
async function publishFolder (client: ApiClient, input: PublishInput): Promise<PublishResult> {
  const root = input.file
  const name = input.name ?? basename(resolve(root))
  checkBeforeUpload(name, input.mediaType, input.metadata)
  const files = await filesUnder(root)
  if (files.length === 0) {
    throw new CliError(`${root} holds no file to publish`)
  }
  const headers = files.map(f => entryHeader({ path: f.path, size: f.size, ...(mediaTypeOf(f.path) != null ? { mediaType: mediaTypeOf(f.path)! } : {}) }))
  const size = files.reduce((sum, f, i) => sum + f.size + headers[i]!.byteLength, 0)
  async function * body (): AsyncGenerator<Uint8Array> {
    for (const [i, file] of files.entries()) {
      yield headers[i]!
      let sent = 0
      for await (const piece of createReadStream(join(root, ...file.path.split('/')), { highWaterMark: UPLOAD_READ_BYTES }) as AsyncIterable<Uint8Array>) {
        sent += piece.byteLength
        if (sent > file.size) {
          throw new CliError(`${file.path} grew while it was published`)
        }
        yield piece
      }
      if (sent !== file.size) {
        throw new CliError(`${file.path} shrank while it was published`)
      }
    }
  }
  const params = new URLSearchParams({ name })
  for (const [key, value] of input.metadata) {
    params.append('meta', `${key}=${value}`)
  }
  return upload<PublishResult>(client, {
    file: root,
    body: { stream: Readable.from(body()), size },
    progress: input.progress,
    command: 'publish',
    takes: 'a file or a folder',
    path: `/api/v1/publish?${params.toString()}`,
    contentType: ENTRIES_MEDIA_TYPE
  })
}

/** The files under `root`, as collection paths (`/`-separated, relative), in path order. */
async function filesUnder (root: string): Promise<Array<{ path: string, size: number }>> {
  const found: Array<{ path: string, size: number }> = []
  const walk = async (dir: string, prefix: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = prefix === '' ? entry.name : `${prefix}/${entry.name}`
      if (entry.isDirectory()) {
        await walk(join(dir, entry.name), path)
      } else if (entry.isFile()) {
        try {
          checkPath(path)
        } catch (err) {
          throw new CliError(`cannot publish ${join(dir, entry.name)}: ${(err as Error).message}`, { cause: err })
        }
        found.push({ path, size: (await stat(join(dir, entry.name))).size })
      }
    }
  }
  await walk(root, '')
  return found.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)))
}

async function isDirectory (path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory()
  } catch {
    return false
  }
}

/** What `upload` sends, and where. */
export interface UploadInput {
  /** A file path, or `-` for stdin. */
  file: string
  /** What to send instead of the file's bytes (a folder's entries), and its size. */
  body?: { stream: Readable, size: number }
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
  if (input.body != null) {
    source = input.body.stream
    size = input.body.size
  } else if (fromStdin) {
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
