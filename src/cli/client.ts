/**
 * The HTTP client of a running daemon's `/api/v1` and `/dds/<cid>`, used by
 * every command but `daemon`. The daemon is found from `--api URL`, then the
 * `api` file the daemon writes in the `--repo` directory, then the `DDS_API`
 * environment variable, then the `api` file of `DDS_REPO` or `~/.dds`.
 *
 * @module
 */

import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CliError, DaemonError, UsageError, oneLine, systemErrorCode } from './errors.js'
import { checkToken, resolveRepo } from './config.js'
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

/** The repo whose `api` file named the daemon, when that is how it was found. */
export interface ApiFileSource {
  repo: string
  file: string
}

export class ApiClient {
  /** The daemon's base URL, without a trailing slash. */
  readonly url: string
  private readonly token?: string
  private readonly from?: ApiFileSource

  constructor (url: string, token?: string, from?: ApiFileSource) {
    this.url = url.replace(/\/+$/, '')
    this.token = token
    this.from = from
  }

  /**
   * Finds the daemon from `--api`, else the `api` file of `--repo`, else
   * `DDS_API`, else the `api` file of the repo `DDS_REPO` or the default names.
   */
  static async find (flags: ClientFlags, env: Record<string, string | undefined> = process.env): Promise<ApiClient> {
    const token = flags.apiToken != null
      ? checkToken(flags.apiToken, '--api-token', UsageError)
      : env.DDS_API_TOKEN != null && env.DDS_API_TOKEN !== '' ? checkToken(env.DDS_API_TOKEN, 'environment variable DDS_API_TOKEN') : undefined
    if (flags.api != null) {
      return new ApiClient(checkUrl(flags.api, '--api', UsageError), token)
    }
    // an explicit --repo is a flag, and flags come before the environment
    const repoFlag = flags.repo != null && flags.repo.trim() !== ''
    if (!repoFlag && env.DDS_API != null && env.DDS_API !== '') {
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
    return new ApiClient(checkUrl(text.trim(), file, CliError), token, { repo, file })
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
      // the caller's abort (a Ctrl-C) is theirs to explain, not a connection failure
      if (init.signal?.aborted === true) {
        throw init.signal.reason
      }
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
    if (code != null && NO_DAEMON_CODES.has(code) && this.from != null) {
      // the api file outlived its daemon (killed, or crashed before it could remove it)
      return new CliError(`no DDS daemon is running for repo ${this.from.repo}: ${this.from.file} names ${this.url}, where no daemon answers (${code === 'ECONNREFUSED' ? 'connection refused' : code}; a daemon that did not stop cleanly leaves this file); start one with \`dds daemon\``, { cause: err })
    }
    if (code != null && NO_DAEMON_CODES.has(code)) {
      return new CliError(`no DDS daemon at ${this.url} (${code === 'ECONNREFUSED' ? 'connection refused' : code}); start one with \`dds daemon\``, { cause: err })
    }
    const cause = (err as { cause?: Error })?.cause
    const detail = cause?.message ?? (err as Error)?.message ?? String(err)
    return new CliError(`request to the DDS daemon at ${this.url} failed: ${detail}`, { cause: err })
  }

  private async httpError (response: Response, what?: string): Promise<DaemonError> {
    let body: ErrorBody | undefined
    try {
      body = JSON.parse(await response.text()) as ErrorBody
    // a body that is not JSON: the status line says what went wrong
    } catch {}
    const message = body?.error?.message != null ? oneLine(body.error.message) : undefined
    switch (response.status) {
      case 404:
        return new DaemonError(`not found: ${message ?? (what != null ? `no reachable peer has ${what}` : response.url)}`, response.status)
      case 403:
        return new DaemonError(`the daemon at ${this.url} refused the request: ${message ?? 'forbidden'} (a daemon that is not on this machine needs --api-token or DDS_API_TOKEN)`, response.status)
      default:
        return new DaemonError(message ?? `the daemon at ${this.url} answered ${response.status} ${response.statusText}`, response.status)
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
