/**
 * CAR helpers of the tests, built on @ipld/car alone (not on the code under
 * test): the sections of a CAR, and a CAR written from chosen sections (to
 * damage, drop or add blocks).
 */
import { CarBufferWriter, CarReader } from '@ipld/car'
import type { CID } from 'multiformats/cid'

export interface Section {
  cid: CID
  bytes: Uint8Array
}

/** The blocks of a CAR, in order, as @ipld/car reads them. */
export async function carSections (car: Uint8Array): Promise<Section[]> {
  const reader = await CarReader.fromBytes(car)
  const sections: Section[] = []
  for await (const block of reader.blocks()) {
    sections.push({ cid: block.cid, bytes: block.bytes })
  }
  return sections
}

/** A CARv1 of `sections` with `roots` in its header, written by @ipld/car. */
export function writeCar (roots: CID[], sections: Section[]): Uint8Array {
  const size = CarBufferWriter.headerLength({ roots }) + sections.reduce((sum, s) => sum + CarBufferWriter.blockLength(s), 0)
  const writer = CarBufferWriter.createWriter(new ArrayBuffer(size), { roots })
  for (const section of sections) {
    writer.write(section)
  }
  return writer.close()
}
