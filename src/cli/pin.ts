/**
 * `dds pin`: asks the daemon to pin content and follows the fetch. The
 * daemon streams its progress (`POST /api/v1/pin/<cid>?progress=1`, one JSON
 * object a line); on a terminal a bar on stderr shows bytes and chunks
 * fetched, and the command ends with one line saying what was pinned.
 *
 * @module
 */

import { DaemonError, CliError, oneLine } from './errors.js'
import { formatBytes } from './format.js'
import { createProgress, type Progress } from './progress.js'
import type { ApiClient } from './client.js'

/** The pin as the daemon returns it. */
export interface PinJson {
  cid: string
  kind: string
  state: string
  size: number
  name?: string
}

/** One line of the daemon's progress stream. */
type PinLine =
  | { type: 'progress', cid: string, size: number, chunks: number, bytes: number, chunksDone: number }
  | { type: 'done', pin: PinJson }
  | { type: 'error', error?: { code?: string, message?: string } }

export interface PinResult {
  pin: PinJson
  /** Chunks of the content. */
  chunks: number
  /** Seconds the pin took, as the client saw it. */
  seconds: number
}

/** HTTP status the gateway gives each error code, for an error that came in the stream. */
const STATUS: Record<string, number> = { InvalidInputError: 400, NotFoundError: 404, RejectedError: 409, TimeoutError: 504, AbortError: 499 }

/** Pins `cid` on the daemon; with `progress`, draws a bar on stderr while it is fetched. */
export async function pinWithProgress (client: ApiClient, cid: string, progress: boolean): Promise<PinResult> {
  const started = performance.now()
  const response = await client.request(`/api/v1/pin/${encodeURIComponent(cid)}?progress=1`, { method: 'POST' }, cid)
  let bar: Progress | undefined
  let chunks = 0
  let chunksDone = 0
  let done: PinJson | undefined
  try {
    for await (const line of lines(response)) {
      let event: PinLine
      try {
        event = JSON.parse(line) as PinLine
      } catch (err) {
        throw new CliError(`the daemon at ${client.url} sent a progress line that is not JSON; is it a DDS daemon?`, { cause: err })
      }
      if (event.type === 'progress') {
        chunks = event.chunks
        chunksDone = event.chunksDone
        bar ??= createProgress('pin', event.size, progress, 0, { detail: () => `${chunksDone}/${chunks} chunks` })
        bar.set(event.bytes)
      } else if (event.type === 'done') {
        done = event.pin
      } else if (event.type === 'error') {
        const code = event.error?.code ?? 'Error'
        const message = oneLine(event.error?.message ?? 'the pin failed')
        throw new DaemonError(code === 'NotFoundError' ? `not found: ${message}` : message, STATUS[code] ?? 500)
      }
    }
  } finally {
    bar?.stop()
  }
  if (done == null) {
    throw new CliError(`the daemon at ${client.url} ended the pin of ${cid} without saying whether it was done; \`dds pins\` shows whether it is pinned`)
  }
  return { pin: done, chunks, seconds: (performance.now() - started) / 1000 }
}

/** The final line of `dds pin`. */
export function formatPinned (result: PinResult): string {
  const { pin } = result
  const what = [formatBytes(pin.size), ...(result.chunks > 0 ? [`${result.chunks} ${result.chunks === 1 ? 'chunk' : 'chunks'}`] : []), pin.kind, pin.state]
  return `pinned ${pin.cid}${pin.name != null ? ` "${oneLine(pin.name)}"` : ''} (${what.join(', ')}) in ${result.seconds.toFixed(1)} s`
}

/** The lines of an NDJSON response body. */
async function * lines (response: Response): AsyncGenerator<string> {
  if (response.body == null) {
    return
  }
  const decoder = new TextDecoder()
  let buffered = ''
  const reader = response.body.getReader()
  for (let read = await reader.read(); !read.done; read = await reader.read()) {
    buffered += decoder.decode(read.value, { stream: true })
    let at: number
    while ((at = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, at).trim()
      buffered = buffered.slice(at + 1)
      if (line !== '') {
        yield line
      }
    }
  }
  if (buffered.trim() !== '') {
    yield buffered.trim()
  }
}
