import type { FastifyReply } from 'fastify'
import { cidToString, parseCid } from '../cid.js'
import { InvalidInputError, NotFoundError } from '../errors.js'
import type { ContentStat, GatewayNode } from './types.js'

/**
 * A signal that aborts when the client goes away before its response is
 * complete, so whatever the request started (a retrieval, a publish) stops.
 */
export function clientSignal (reply: FastifyReply): AbortSignal {
  const controller = new AbortController()
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) {
      controller.abort(new Error('the HTTP client closed the connection'))
    }
  })
  return controller.signal
}

/** The base58btc form of a CID from a URL. @throws {InvalidInputError} when it is not a DDS CID */
export function normalizeCid (text: string): string {
  return cidToString(parseCid(text))
}

/**
 * `stat` bounded by the gateway's not-found wait: content nobody provides
 * within `timeoutMs` is a NotFoundError, not a TimeoutError, because to the
 * HTTP client it was not found. `checkLocal: false` skips reading every
 * block's presence from the store when only the manifest is wanted.
 */
export async function statWithin (node: GatewayNode, cid: string, timeoutMs: number, signal: AbortSignal, checkLocal = true): Promise<ContentStat> {
  const deadline = AbortSignal.timeout(timeoutMs)
  try {
    return await node.stat(cid, { signal: AbortSignal.any([signal, deadline]), checkLocal })
  } catch (err) {
    if (deadline.aborted && !signal.aborted) {
      throw new NotFoundError(`no peer provided ${cid} within ${timeoutMs} ms`, { cause: err })
    }
    if (err instanceof InvalidInputError) {
      // `cid` parsed, so what stat refused is the block it names: a chunk's
      // CID, most often, given where a content CID was wanted. The decoder's
      // reason ("invalid end group tag") stays in the cause.
      throw new InvalidInputError(`${cid} is not the CID of content: it names a block that is not a DDS manifest (a chunk of some content, perhaps); use the CID that publishing the content returned`, { cause: err })
    }
    throw err
  }
}

/** Query parameters as fastify parses them: a value, several, or none. */
export type QueryValue = string | string[] | undefined

/** The last value of a query parameter given once or more. */
export function single (value: QueryValue): string | undefined {
  return Array.isArray(value) ? value[value.length - 1] : value
}

/** Every value of a query parameter. */
export function every (value: QueryValue): string[] {
  return value == null ? [] : Array.isArray(value) ? value : [value]
}

/** True for a query flag given as `1`, `true` or `yes`. */
export function flag (value: QueryValue): boolean {
  const v = single(value)
  return v === '1' || v === 'true' || v === 'yes' || v === ''
}
