import { Uint8ArrayList } from 'uint8arraylist'
import protobuf from 'protobufjs/minimal.js'
import { pb, type ResponseMessage, type ResponseProps } from '../pb/index.js'
import { SEPARATE_DATA_MIN } from './constants.js'

/**
 * A Response frame, decoded. The data of a RetrieveChunk answer stays in the
 * pieces it arrived in (`chunkData`): a 256 KiB chunk reaches the reader as
 * several pieces (one per Noise message), and joining them would copy every
 * byte received once more.
 */
export interface ReceivedResponse {
  response: ResponseMessage
  /** The `data` of a `retrieve_chunk` answer (empty if it had none); unset for every other kind. */
  chunkData?: Uint8ArrayList
}

const WIRE_VARINT = 0
const WIRE_LEN = 2

/** Field numbers of the messages read here (protos/dds_messages.proto). */
const RESPONSE_ID = 1
const RESPONSE_RETRIEVE_CHUNK = 3
const CHUNK_STATUS = 1
const CHUNK_ERROR = 2
const CHUNK_DATA = 3

/** Longest protobuf varint (a 64-bit value). */
const MAX_VARINT_BYTES = 10

// fatal, as protobufjs is: text that is not UTF-8 makes the frame invalid
const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * Encodes a Response, byte for byte as `pb.Response.encode` does. A
 * RetrieveChunk answer carrying data (and nothing else but its status and
 * id) is sent as a short header followed by the data itself, not copied into
 * one buffer: a seeder then never copies the blocks it serves.
 */
export function encodeResponse (response: ResponseProps): Uint8Array | Uint8ArrayList {
  const chunk = response.retrieveChunk
  const data = chunk?.data
  if (chunk == null || data == null || data.byteLength < SEPARATE_DATA_MIN || hasUnknowns(chunk) || hasUnknowns(response) ||
    response.storeChunk != null || response.replicate != null || response.catalog != null || response.error != null) {
    return pb.Response.encode(response).finish()
  }
  // The answer's fields come out in field order: the id, then the chunk (the
  // last field here), whose data is its own last field. protobufjs encodes
  // everything but the data and the two lengths that count it.
  const head = pb.RetrieveChunkResponse.encode({ status: chunk.status, error: chunk.error }, protobuf.Writer.create())
    .uint32(8 * CHUNK_DATA + WIRE_LEN).uint32(data.byteLength).finish()
  const id = pb.Response.encode({ id: response.id })
    .uint32(8 * RESPONSE_RETRIEVE_CHUNK + WIRE_LEN).uint32(head.byteLength + data.byteLength).finish()
  return new Uint8ArrayList(id, head, data)
}

function hasUnknowns (message: object): boolean {
  return (message as { $unknowns?: unknown[] }).$unknowns != null
}

/**
 * Decodes a Response frame. A `retrieve_chunk` answer whose fields are the
 * ones the schema names, each once, is read field by field from the frame's
 * pieces, and its data is kept as a list of views into them. Any other frame
 * (another kind, unknown or repeated fields, anything malformed) is joined
 * and decoded by protobufjs, with protobufjs's result and errors: the fast
 * path never accepts a frame protobufjs would refuse, nor reads one
 * differently.
 *
 * @throws {Error} the frame is not a valid Response (protobufjs's error)
 */
export function decodeResponse (frame: Uint8ArrayList): ReceivedResponse {
  const fast = readChunkResponse(frame)
  if (fast != null) {
    return fast
  }
  const response = pb.Response.decode(frame.subarray())
  const data = response.retrieveChunk?.data
  if (response.body === 'retrieveChunk') {
    return { response, chunkData: new Uint8ArrayList(data ?? new Uint8Array(0)) }
  }
  return { response }
}

/** Reads an unsigned varint at `pos`; undefined if it is cut off, over `MAX_VARINT_BYTES` or past 2^53. */
function readVarint (list: Uint8ArrayList, pos: number, end: number): { value: number, next: number } | undefined {
  let value = 0
  let scale = 1
  for (let i = pos; i < end && i < pos + MAX_VARINT_BYTES; i++) {
    const byte = list.get(i)
    value += (byte & 0x7f) * scale
    if (byte < 0x80) {
      return Number.isSafeInteger(value) ? { value, next: i + 1 } : undefined
    }
    scale *= 0x80
  }
  return undefined
}

interface Field { number: number, wire: number, start: number, end: number, value: number }

/** Reads the field at `pos` (a varint or a length-delimited one); undefined for anything else or if it is cut off. */
function readField (list: Uint8ArrayList, pos: number, end: number): Field | undefined {
  const tag = readVarint(list, pos, end)
  if (tag == null) {
    return undefined
  }
  const number = Math.floor(tag.value / 8)
  const wire = tag.value % 8
  const body = readVarint(list, tag.next, end)
  if (body == null) {
    return undefined
  }
  if (wire === WIRE_VARINT) {
    return { number, wire, start: body.next, end: body.next, value: body.value }
  }
  if (wire === WIRE_LEN && body.value <= end - body.next) {
    return { number, wire, start: body.next, end: body.next + body.value, value: body.value }
  }
  return undefined
}

function readChunkResponse (frame: Uint8ArrayList): ReceivedResponse | undefined {
  let id: number | undefined
  let chunk: Field | undefined
  for (let pos = 0; pos < frame.byteLength;) {
    const field = readField(frame, pos, frame.byteLength)
    if (field == null) {
      return undefined
    }
    if (field.number === RESPONSE_ID && field.wire === WIRE_VARINT && id == null) {
      id = field.value
    } else if (field.number === RESPONSE_RETRIEVE_CHUNK && field.wire === WIRE_LEN && chunk == null) {
      chunk = field
    } else {
      return undefined
    }
    pos = field.end
  }
  if (chunk == null) {
    return undefined
  }
  let status: number | undefined
  let error: Field | undefined
  let data: Field | undefined
  for (let pos = chunk.start; pos < chunk.end;) {
    const field = readField(frame, pos, chunk.end)
    if (field == null) {
      return undefined
    }
    // status is an enum (int32): a value over 2^31 is left to protobufjs
    if (field.number === CHUNK_STATUS && field.wire === WIRE_VARINT && status == null && field.value < 2 ** 31) {
      status = field.value
    } else if (field.number === CHUNK_ERROR && field.wire === WIRE_LEN && error == null) {
      error = field
    } else if (field.number === CHUNK_DATA && field.wire === WIRE_LEN && data == null) {
      data = field
    } else {
      return undefined
    }
    pos = field.end
  }
  const body = pb.RetrieveChunkResponse.create()
  if (status != null) {
    body.status = status
  }
  if (error != null) {
    try {
      body.error = utf8.decode(frame.subarray(error.start, error.end))
    } catch {
      // protobufjs decodes the frame and refuses it with its own error
      return undefined
    }
  }
  const response = pb.Response.create({ id: id ?? 0, retrieveChunk: body })
  return { response, chunkData: data != null ? frame.sublist(data.start, data.end) : new Uint8ArrayList() }
}
