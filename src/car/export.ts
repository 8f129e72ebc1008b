/**
 * Writing a content's blocks as a CARv1 stream, from the local store.
 *
 * @module
 */

import type { CID } from 'multiformats/cid'
import { CustomProgressEvent } from 'progress-events'
import { blockMatchesCid, cidForBlock, cidKey, cidToString } from '../cid.js'
import { IntegrityError, InvalidInputError, NotFoundError, throwIfAborted } from '../errors.js'
import { chunkCount, decodeManifest, decodeManifestNode, isCollection, nodeChunkCount, storedEntries, type Manifest } from '../manifest/index.js'
import { carHeader, sectionPrefix } from './encode.js'
import type { CarParts } from './car.js'
import type { ExportCarOptions } from './index.js'

/** One block of an export, in the order it is written; `bytes` when it was read (and verified) already. */
interface Planned {
  cid: CID
  bytes?: Uint8Array
  /** What the block is, for messages: "chunk 3 of 40", "manifest node 1". */
  what: () => string
}

/**
 * The CAR of `cid`: a CARv1 header naming `cid` as its root, then the
 * manifest, then each chunk in content order (for a manifest tree: each
 * node, followed by the chunks it lists): a depth-first walk, so a reader
 * meets every block after the one that names it. Every block is read from
 * the local store and checked against its CID on its way out (unless
 * `verify: false`; the manifest and tree nodes always are), `readAhead`
 * blocks ahead of the one being written, so memory stays at a few blocks
 * whatever the content's size.
 *
 * Before the header is written, content that is not pinned whole is walked
 * once to check that every block is in the store, so content held only in
 * part fails before any byte is written. (Content a complete pin names is
 * not: a pin is marked complete only once every block is stored, and gc
 * spares them. Checking would cost nearly a second read of the content:
 * LevelDB reads a block's value to find its key.)
 */
export async function * exportCar (cid: CID, options: ExportCarOptions, components: CarParts, readAhead: number): AsyncGenerator<Uint8Array> {
  const { storage } = components
  const root = await readVerified(cid, components, options, () => `${cidToString(cid)} is not in this node's store; DDS exports only what a node holds: pin the content first (\`dds pin ${cidToString(cid)}\`, or \`pin()\`), which fetches it from peers`)
  if (options.scope === 'block') {
    yield carHeader([cid])
    yield sectionPrefix(cid, root.byteLength)
    yield root
    options.onProgress?.(new CustomProgressEvent('dds:export:block', { blocks: 1, bytes: root.byteLength }))
    return
  }
  let manifest: Manifest
  try {
    manifest = decodeManifest(root)
  } catch (err) {
    throw new InvalidInputError(`${cidToString(cid)} is not the CID of content: it names a block that is not a DDS manifest (a chunk, perhaps); export the content's CID, or pass scope 'block' to export this one block`, { cause: err })
  }
  if ((await components.replication.getPin(cid))?.state !== 'complete') {
    // a complete pin holds every block (gc spares them); anything else is checked
    await checkHeld(cid, manifest, root, options, components)
  }
  yield carHeader([cid])
  const seen = options.duplicates === true ? undefined : new Set<string>()
  const queue: Array<{ planned: Planned, bytes: Promise<Uint8Array | undefined> }> = []
  const walk = plan(cid, manifest, root, options, components)
  let blocks = 0
  let bytes = 0
  try {
    let walking = true
    while (walking || queue.length > 0) {
      while (walking && queue.length < readAhead) {
        const next = await walk.next()
        if (next.done === true) {
          walking = false
          break
        }
        const planned = next.value
        if (seen != null) {
          const key = cidKey(planned.cid)
          if (seen.has(key)) {
            continue
          }
          seen.add(key)
        }
        const read = planned.bytes != null ? Promise.resolve(planned.bytes) : storage.get(planned.cid, { signal: options.signal })
        // awaited in turn below; a rejection before then is not unhandled
        read.catch(() => {})
        queue.push({ planned, bytes: read })
      }
      const head = queue.shift()
      if (head == null) {
        break
      }
      const block = await head.bytes
      throwIfAborted(options.signal, 'export')
      if (block == null) {
        throw new NotFoundError(`${head.planned.what()} (${cidToString(head.planned.cid)}) of ${cidToString(cid)} left this node's store during the export (a gc?); the CAR is incomplete`)
      }
      if (head.planned.bytes == null && options.verify !== false && !blockMatchesCid(head.planned.cid, block)) {
        throw damaged(head.planned, block)
      }
      yield sectionPrefix(head.planned.cid, block.byteLength)
      yield block
      blocks++
      bytes += block.byteLength
      options.onProgress?.(new CustomProgressEvent('dds:export:block', { blocks, bytes }))
    }
  } finally {
    await walk.return(undefined)
  }
}

/**
 * Every block of the content in CAR order: the manifest, then its chunks,
 * each tree node before the chunks it lists. A collection's blocks are
 * followed by each entry's, in path order (each entry's content once).
 */
async function * plan (cid: CID, manifest: Manifest, root: Uint8Array, options: ExportCarOptions, components: CarParts): AsyncGenerator<Planned> {
  yield * ownPlan(cid, manifest, root, options, components)
  if (!isCollection(manifest)) {
    return
  }
  const entries = await storedEntries(cid, manifest, async (block) => components.storage.get(block, { signal: options.signal }), { signal: options.signal })
  if (entries == null) {
    throw new IntegrityError(`the list of the collection ${cidToString(cid)} does not decode`)
  }
  const done = new Set<string>()
  for (const entry of entries) {
    if (done.has(entry.cid.toString())) {
      continue
    }
    done.add(entry.cid.toString())
    const bytes = await readVerified(entry.cid, components, options, () => `entry ${entry.path} (${cidToString(entry.cid)}) of ${cidToString(cid)} is not in this node's store; pin the collection first (\`dds pin ${cidToString(cid)}\`) to export it`)
    let entryManifest: Manifest
    try {
      entryManifest = decodeManifest(bytes)
    } catch (err) {
      throw new IntegrityError(`entry ${entry.path} of ${cidToString(cid)} is not a DDS manifest: ${(err as Error).message}`, { cause: err })
    }
    yield * ownPlan(entry.cid, entryManifest, bytes, options, components)
  }
}

/** The blocks of one content in CAR order: the manifest, then its chunks, each tree node before the chunks it lists. */
async function * ownPlan (cid: CID, manifest: Manifest, root: Uint8Array, options: ExportCarOptions, components: CarParts): AsyncGenerator<Planned> {
  yield { cid, bytes: root, what: () => 'the manifest' }
  const total = chunkCount(manifest.size)
  if (manifest.children == null) {
    for (let index = 0; index < manifest.chunkCids.length; index++) {
      yield { cid: manifest.chunkCids[index]!, what: () => `chunk ${index} of ${total}` }
    }
    return
  }
  let index = 0
  for (let node = 0; node < manifest.children.length; node++) {
    const child = manifest.children[node]!
    const bytes = await readVerified(child, components, options, () => `manifest node ${node} (${cidToString(child)}) of ${cidToString(cid)} is not in this node's store; pin the content first (\`dds pin ${cidToString(cid)}\`) to export it`)
    let cids: CID[]
    try {
      cids = decodeManifestNode(bytes, nodeChunkCount(manifest, node))
    } catch (err) {
      throw new IntegrityError(`manifest node ${node} of ${cidToString(cid)} is invalid: ${(err as Error).message}`, { cause: err })
    }
    yield { cid: child, bytes, what: () => `manifest node ${node}` }
    for (const chunk of cids) {
      const at = index++
      yield { cid: chunk, what: () => `chunk ${at} of ${total}` }
    }
  }
}

/**
 * Checks that every block of the content is in the store, so that an export
 * of content held in part fails before its first byte rather than half-way.
 *
 * @throws {NotFoundError} naming the first block missing
 */
async function checkHeld (cid: CID, manifest: Manifest, root: Uint8Array, options: ExportCarOptions, components: CarParts): Promise<void> {
  for await (const planned of plan(cid, manifest, root, options, components)) {
    if (planned.bytes == null && !await components.storage.has(planned.cid, { signal: options.signal })) {
      throw new NotFoundError(`this node does not hold all of ${cidToString(cid)}: ${planned.what()} (${cidToString(planned.cid)}) is missing from its store; pin the content first (\`dds pin ${cidToString(cid)}\`, or \`pin()\`), which fetches what is missing from peers`)
    }
  }
}

/** A block from the store, checked against its CID. */
async function readVerified (cid: CID, components: CarParts, options: ExportCarOptions, missing: () => string): Promise<Uint8Array> {
  const bytes = await components.storage.get(cid, { signal: options.signal })
  if (bytes == null) {
    throw new NotFoundError(missing())
  }
  if (!blockMatchesCid(cid, bytes)) {
    throw damaged({ cid, what: () => 'the block' }, bytes)
  }
  return bytes
}

function damaged (planned: Planned, bytes: Uint8Array): IntegrityError {
  return new IntegrityError(`${planned.what()} ${cidToString(planned.cid)} in this node's store does not match its CID (its ${bytes.byteLength} bytes hash to ${cidToString(cidForBlock(bytes))}): the store is damaged; unpin and pin the content again to fetch a good copy`)
}
