/**
 * A collection's paths against the file system `dds get -o` writes them to:
 * pairs that one file system ignoring case would take for one file, and the
 * probe that tells whether a folder's file system ignores case (run here on
 * the real temp directory).
 */
import { describe, it, expect, afterAll } from 'vitest'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { foldedCollision, ignoresCase } from '../../src/cli/folder-paths.js'

const dirs: string[] = []
afterAll(async () => { await Promise.all(dirs.map(async dir => rm(dir, { recursive: true, force: true }))) })

describe('folder paths', () => {
  it('finds two paths that differ only in case or Unicode normalisation, or a file that is another entry\'s folder', () => {
    expect(foldedCollision(['cover.jpg', 'disc 1/01.flac', 'disc 2/01.flac'])).toBeUndefined()
    expect(foldedCollision(['A.flac', 'b.flac', 'a.flac'])).toEqual(['A.flac', 'a.flac'])
    expect(foldedCollision(['Disc 1/Intro.flac', 'disc 1/intro.FLAC'])).toEqual(['Disc 1/Intro.flac', 'disc 1/intro.FLAC'])
    // é composed (NFC) and decomposed (NFD)
    expect(foldedCollision(['caf\u00e9.txt', 'cafe\u0301.txt'])).toEqual(['caf\u00e9.txt', 'cafe\u0301.txt'])
    expect(foldedCollision(['Disc 1', 'disc 1/01.flac'])).toEqual(['Disc 1', 'disc 1/01.flac'])
    // distinct folders that share a prefix are no collision
    expect(foldedCollision(['disc/1.flac', 'disc 1/1.flac', 'Disc1'])).toBeUndefined()
  })

  it('probes whether a folder\'s file system ignores case, from its nearest existing parent, and leaves nothing behind', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dds-case-'))
    dirs.push(dir)
    // the Linux file systems these tests run on tell case apart
    expect(await ignoresCase(join(dir, 'not', 'yet', 'made'))).toBe(false)
    expect(await ignoresCase(dir)).toBe(false)
    expect(await readdir(dir)).toEqual([])
  })
})
