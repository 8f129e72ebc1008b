/**
 * CARv1 framing of an export: the header (through @ipld/car's buffer
 * writer, which encodes it as DAG-CBOR) and each section's prefix.
 *
 * @module
 */

import { close, createWriter, headerLength } from '@ipld/car/buffer-writer'
import { varint } from 'multiformats'
import type { CID } from 'multiformats/cid'

/** The CARv1 header naming `roots`: its length (a varint), then `{ version: 1, roots }` in DAG-CBOR. */
export function carHeader (roots: CID[]): Uint8Array {
  const writer = createWriter(new ArrayBuffer(headerLength({ roots })), { roots })
  return close(writer)
}

/**
 * What goes before a block's bytes in a CAR: the section length (a varint
 * of the CID's and the block's lengths) and the binary CID. The block's
 * bytes follow as they are, so an export never copies them.
 */
export function sectionPrefix (cid: CID, blockLength: number): Uint8Array {
  const length = cid.bytes.byteLength + blockLength
  const varintLength = varint.encodingLength(length)
  const prefix = new Uint8Array(varintLength + cid.bytes.byteLength)
  varint.encodeTo(length, prefix, 0)
  prefix.set(cid.bytes, varintLength)
  return prefix
}
