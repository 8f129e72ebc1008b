/**
 * The HTTP client of a running daemon's `/api/v1` and `/dds/<cid>`, used by
 * every command but `daemon`. The daemon is found from `--api URL`, then the
 * `DDS_API` environment variable, then the `api` file the daemon writes in
 * its repo.
 *
 * @module
 */

import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CliError, UsageError, oneLine, systemErrorCode } from './errors.js'
import { resolveRepo } from './config.js'
import { API_FILE } from './constants.js'

/** Options every client command takes. */
export interface ClientFlags {
  api?: string
  repo?: string
  apiToken?: string
}

/** The JSON error body of the gateway. */
interface ErrorBody {
  error?: { code?: string, message?: string }
}

/** Codes of connection failures that mean no daemon listens at the URL. */
const NO_DAEMON_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'UND_ERR_SOCKET'])

export class ApiClient {
  /** The daemon's base URL, without a trailing slash. */
  readonly url: string
  private readonly token?: string

  constructor (url: string, token?: string) {
    this.url = url.replace(/\/+$/, '')
    this.token = token
  }

  /** Finds the daemon from the flags, the environment or the repo's `api` file. */
  static async find (flags: ClientFlags, env: Record<string, string | undefined> = process.env): Promise<ApiClient> {
    const token = flags.apiToken ?? (env.DDS_API_TOKEN !== '' ? env.DDS_API_TOKEN : undefined)
    if (flags.api != null) {
      return new ApiClient(checkUrl(flags.api, '--api', UsageError), token)
    }
    if (env.DDS_API != null && env.DDS_API !== '') {
      return new ApiClient(checkUrl(env.DDS_API, 'environment variable DDS_API', CliError), token)
    }
    const repo = resolveRepo(flags.repo, env)
    const file = join(repo, API_FILE)
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch (err) {
      if (systemErrorCode(err) === 'ENOENT' || systemErrorCode(err) === 'ENOTDIR') {
        throw new CliError(`no DDS daemon is running for repo ${repo} (no ${file}); start one with \`dds daemon\`, or pass --api URL`)
      }
      throw new CliError(`cannot read ${file}: ${(err as Error).message}`, { cause: err })
    }
    return new ApiClient(checkUrl(text.trim(), file, CliError), token)
  }

  /**
   * Sends a request and returns the response if its status is 2xx.
   *
   * @param what names the thing asked for in a 404 message (e.g. the CID)
   */
  async request (path: string, init: RequestInit & { duplex?: 'half' } = {}, what?: string): Promise<Response> {
    const headers = new Headers(init.headers)
    if (this.token != null) {
      headers.set('authorization', `Bearer ${this.token}`)
    }
    let response: Response
    try {
      response = await fetch(`${this.url}${path}`, { ...init, headers })
    } catch (err) {
      throw this.connectionError(err)
    }
    if (!response.ok) {
      throw await this.httpError(response, what)
    }
    return response
  }

  /** GETs or POSTs a JSON API path and parses the answer. */
  async json<T> (method: 'GET' | 'POST', path: string, what?: string): Promise<T> {
    const response = await this.request(path, { method }, what)
    try {
      return await response.json() as T
    } catch (err) {
      throw new CliError(`the daemon at ${this.url} sent a reply that is not JSON; is it a DDS daemon?`, { cause: err })
    }
  }

  /** The error for a request that got no HTTP response at all. */
  connectionError (err: unknown): CliError {
    if (err instanceof CliError) {
      return err
    }
    const code = systemErrorCode(err) ?? (err as { cause?: { code?: string } })?.cause?.code
    if (code != null && NO_DAEMON_CODES.has(code)) {
      return new CliError(`no DDS daemon at ${this.url} (${code === 'ECONNREFUSED' ? 'connection refused' : code}); start one with \`dds daemon\``, { cause: err })
    }
    const cause = (err as { cause?: Error })?.cause
    const detail = cause?.message ?? (err as Error)?.message ?? String(err)
    return new CliError(`request to the DDS daemon at ${this.url} failed: ${detail}`, { cause: err })
  }

  private async httpError (response: Response, what?: string): Promise<CliError> {
    let body: ErrorBody | undefined
    try {
      body = JSON.parse(await response.text()) as ErrorBody
    } catch {}
    const message = body?.error?.message != null ? oneLine(body.error.message) : undefined
    switch (response.status) {
      case 404:
        return new CliError(`not found: ${message ?? (what != null ? `no reachable peer has ${what}` : response.url)}`)
      case 403:
        return new CliError(`the daemon at ${this.url} refused the request: ${message ?? 'forbidden'} (a daemon that is not on this machine needs --api-token or DDS_API_TOKEN)`)
      default:
        return new CliError(message ?? `the daemon at ${this.url} answered ${response.status} ${response.statusText}`)
    }
  }
}

function checkUrl (text: string, source: string, Err: new (message: string) => CliError): string {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new Err(`invalid ${source} "${oneLine(text).slice(0, 100)}": expected the daemon's gateway URL, such as http://127.0.0.1:8180`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Err(`invalid ${source} "${text}": the daemon's URL must start with http:// or https://`)
  }
  return url.origin + url.pathname
}
