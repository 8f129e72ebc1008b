/**
 * Paths of a collection against the file system they are written to. A
 * collection may list `A.flac` and `a.flac` (or the same name in two Unicode
 * normalisation forms): on a file system that ignores case (macOS and
 * Windows by default) they are one file, and writing the second would
 * overwrite the first. `dds get -o DIR` finds such pairs before it writes
 * anything and refuses them there.
 *
 * @module
 */

import { randomBytes } from 'node:crypto'
import { access, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'

/** A path as a file system that ignores case and Unicode normalisation compares it. */
function folded (path: string): string {
  return path.normalize('NFC').toLowerCase()
}

/**
 * The first two paths that name one file, or a file and a folder, once case
 * and Unicode normalisation are ignored; `undefined` when there are none.
 * `paths` are relative and `/`-separated, each distinct (a checked list).
 */
export function foldedCollision (paths: string[]): [string, string] | undefined {
  const files = new Map<string, string>()
  for (const path of paths) {
    const key = folded(path)
    const other = files.get(key)
    if (other != null) {
      return [other, path]
    }
    files.set(key, path)
  }
  // a file and another entry's folder: `Disc 1` and `disc 1/01.flac`
  for (const path of paths) {
    const segments = path.split('/')
    for (let i = 1; i < segments.length; i++) {
      const folder = segments.slice(0, i).join('/')
      const file = files.get(folded(folder))
      if (file != null) {
        return [file, path]
      }
    }
  }
  return undefined
}

/**
 * Whether the file system that holds `dir` (or its nearest existing parent)
 * ignores case: a probe file is written under a lower-case name and looked
 * up under the upper-case one, then removed.
 */
export async function ignoresCase (dir: string): Promise<boolean> {
  let at = dir
  while (!await exists(at)) {
    const parent = dirname(at)
    if (parent === at) {
      return false
    }
    at = parent
  }
  const probe = join(at, `.dds-case-probe-${randomBytes(6).toString('hex')}`)
  try {
    await writeFile(probe, '', { flag: 'wx' })
  } catch {
    // a folder this user cannot write to: the write of the tree will say so
    return false
  }
  try {
    return await exists(join(at, probe.slice(at.length + 1).toUpperCase()))
  } finally {
    await rm(probe, { force: true })
  }
}

/** Whether anything (a file, a folder, a link) is at `path`. */
export async function exists (path: string): Promise<boolean> {
  return access(path).then(() => true, () => false)
}
