/**
 * Typed access to the messages generated from `protos/dds_messages.proto`.
 *
 * The code in `./generated/` is produced by protobufjs-cli (`npm run gen:proto`)
 * and is never edited by hand. This file adds what the generated code leaves
 * out: plain TypeScript names for the messages and safe number conversion for
 * the uint64 fields, which protobufjs may decode as `Long` objects.
 *
 * @module
 */

import { dds } from './generated/dds_messages.js'
import { InvalidInputError } from '../errors.js'

export const pb = dds.v1

export const Status = dds.v1.Status
export type Status = dds.v1.Status

export type ContentManifestMessage = dds.v1.ContentManifest
export type RequestMessage = dds.v1.Request
export type ResponseMessage = dds.v1.Response

interface LongLike { low: number, high: number, unsigned?: boolean, toNumber(): number }

/**
 * Converts a decoded uint64 (a number or a protobufjs `Long`) to a JS number.
 *
 * @throws {InvalidInputError} when the value does not fit in a safe integer
 */
export function uint64ToNumber (value: number | LongLike | null | undefined, field: string): number {
  if (value == null) {
    return 0
  }
  const n = typeof value === 'number' ? value : value.toNumber()
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new InvalidInputError(`${field} is out of range`)
  }
  return n
}

/** Human-readable name of a status value, e.g. `NOT_FOUND`. */
export function statusName (status: number | null | undefined): string {
  return Status[status ?? 0] ?? `UNKNOWN(${String(status)})`
}

/** The plain-object form of a Request, as accepted by `pb.Request.encode`. */
export type RequestProps = dds.v1.Request.$Properties
/** The plain-object form of a Response, as accepted by `pb.Response.encode`. */
export type ResponseProps = dds.v1.Response.$Properties
