/**
 * Importing a CAR: every block verified and stored, every root checked to be
 * whole, then pinned and announced as a publish would.
 *
 * @module
 */

import type { CID } from 'multiformats/cid'
import { CustomProgressEvent } from 'progress-events'
import { blockMatchesCid, cidForBlock, cidToString } from '../cid.js'
import { IntegrityError, InvalidInputError, throwIfAborted } from '../errors.js'
import { chunkCount, contentBlocks, verifyManifestBlock, type Manifest } from '../manifest/index.js'
import { BatchWriter } from '../storage/index.js'
import { openCar, type CarSource, type CarStream } from './decode.js'
import type { CarParts } from './car.js'
import type { ImportCarOptions } from './index.js'

/** A root of an imported CAR, checked to be whole content. */
interface ImportedContent {
  cid: CID
  size: number
  manifest: Manifest
}

/**
 * Imports a CAR: reads it as it streams (holding one block at a time),
 * checks each block against its CID and writes it to the store in batches;
 * then checks that each root is a DDS manifest whose every block (tree
 * nodes and chunks) is now in the store, from the CAR or held before. Only
 * then are the roots pinned (under the gc lock, as a publish pins), and
 * announced. Resolves to the roots' CIDs (base58btc).
 *
 * If anything fails, nothing is pinned; the blocks already written stay in
 * the store unreferenced, for the next gc.
 */
export async function importCar (source: CarSource, options: ImportCarOptions, components: CarParts): Promise<string[]> {
  const car = await openCar(source)
  let imported: ImportedContent[]
  try {
    ({ pins: imported } = await components.replication.pinWrittenMany(async () => {
      await storeBlocks(car, options, components)
      const pins: ImportedContent[] = []
      for (const root of car.roots) {
        pins.push(await checkWhole(root, options, components))
      }
      return { pins }
    }))
  } finally {
    await car.close().catch(() => {})
  }
  for (const content of imported) {
    const cid = cidToString(content.cid)
    const chunks = chunkCount(content.size)
    options.onProgress?.(new CustomProgressEvent('dds:import:stored', { cid, size: content.size, chunks }))
    components.log.info('content imported', { cid, name: content.manifest.name, size: content.size, chunks })
    const announced = await components.announcer.announcePublished(content.cid, content.manifest, { signal: options.signal })
    if (announced != null) {
      options.onProgress?.(new CustomProgressEvent('dds:import:announced', { cid, peers: announced.peers }))
    }
    components.replication.replicate(content.cid)
  }
  return imported.map(content => cidToString(content.cid))
}

/** Every block of the CAR, checked against its CID, into the store. */
async function storeBlocks (car: CarStream, options: ImportCarOptions, components: CarParts): Promise<void> {
  const writer = new BatchWriter(components.storage, options.signal)
  let blocks = 0
  let bytes = 0
  try {
    for await (const block of car.blocks()) {
      throwIfAborted(options.signal, 'import')
      if (!blockMatchesCid(block.cid, block.bytes)) {
        throw new IntegrityError(`block ${blocks} of the CAR, ${cidToString(block.cid)}, does not match its CID (its ${block.bytes.byteLength} bytes hash to ${cidToString(cidForBlock(block.bytes))}): the CAR is damaged; nothing was pinned`)
      }
      await writer.add(block.cid, block.bytes)
      blocks++
      bytes += block.bytes.byteLength
      options.onProgress?.(new CustomProgressEvent('dds:import:block', { blocks, bytes }))
    }
    await writer.flush()
  } finally {
    await writer.settle()
  }
}

/**
 * Checks that `root` names a manifest in the store and that every block it
 * names is in the store too.
 *
 * @throws {InvalidInputError} when the root is not there, is not a manifest, or a block of its content is missing
 */
async function checkWhole (root: CID, options: ImportCarOptions, components: CarParts): Promise<ImportedContent> {
  const { storage } = components
  const text = cidToString(root)
  const bytes = await storage.get(root, { signal: options.signal })
  if (bytes == null) {
    throw new InvalidInputError(`the CAR names ${text} as its root but holds no block of that CID; nothing was pinned`)
  }
  let manifest: Manifest
  try {
    manifest = verifyManifestBlock(root, bytes)
  } catch (err) {
    throw new InvalidInputError(`the CAR's root ${text} is not a DDS manifest (${(err as Error).message}); DDS imports CARs of DDS content, as \`dds export\` writes them`, { cause: err })
  }
  const read = async (cid: CID): Promise<Uint8Array | undefined> => storage.get(cid, { signal: options.signal })
  for await (const block of contentBlocks(root, manifest, read, { missing: 'skip', signal: options.signal })) {
    if (!await storage.has(block, { signal: options.signal })) {
      throw new InvalidInputError(`the CAR does not hold all of ${text}: block ${cidToString(block)} is neither in it nor in this node's store; nothing was pinned (export the content again from a node that holds all of it)`)
    }
  }
  return { cid: root, size: manifest.size, manifest }
}
