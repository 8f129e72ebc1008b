/**
 * `dds export` and `dds import` end to end: two real daemons that never
 * meet, a CAR exported from one (to a file and to stdout) and imported into
 * the other (from a file and from stdin), the content then read back whole
 * from the second; and the errors of both commands.
 */
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { CarReader } from '@ipld/car'
import { blockMatchesCid, parseCid } from '../../src/cid.js'
import { cleanup, dds, startDaemon, tempDir, type Daemon } from './harness.js'

describe('dds export and dds import', () => {
  let dir: string
  let a: Daemon
  let b: Daemon
  let content: Buffer
  let cid: string

  beforeAll(async () => {
    dir = await tempDir()
    ;[a, b] = await Promise.all([startDaemon(join(dir, 'a')), startDaemon(join(dir, 'b'))])
    content = randomBytes(900_000) // four chunks
    await writeFile(join(dir, 'track.bin'), content)
    const published = await dds(['publish', join(dir, 'track.bin'), '--repo', a.repo])
    expect(published.code).toBe(0)
    cid = published.stdout.trim()
  })
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()])
    await cleanup()
  })

  it('export -o writes a CAR rooted at the content, every block matching its CID', async () => {
    const file = join(dir, 'track.car')
    const r = await dds(['export', cid, '-o', file, '--repo', a.repo])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(new RegExp(`^wrote the CAR of ${cid} \\(\\d+ bytes\\) to ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\n$`))
    const reader = await CarReader.fromBytes(await readFile(file))
    expect((await reader.getRoots()).map(String)).toEqual([parseCid(cid).toString()])
    const chunks: Uint8Array[] = []
    for await (const block of reader.blocks()) {
      expect(blockMatchesCid(parseCid(block.cid), block.bytes)).toBe(true)
      chunks.push(block.bytes)
    }
    expect(Buffer.concat(chunks.slice(1)).equals(content)).toBe(true)
    // no partial file is left beside it
    expect((await readdir(dir)).filter(name => name.endsWith('.dds-partial'))).toEqual([])
  })

  it('export writes the same CAR to stdout, and --json says what it wrote', async () => {
    const r = await dds(['export', cid, '--repo', a.repo])
    expect(r.code).toBe(0)
    expect(r.bytes.equals(await readFile(join(dir, 'track.car')))).toBe(true)
    const j = await dds(['export', cid, '-o', join(dir, 'again.car'), '--json', '--repo', a.repo])
    expect(JSON.parse(j.stdout)).toEqual({ cid, bytes: r.bytes.byteLength, path: join(dir, 'again.car') })
  })

  it('import prints the root; the other daemon then serves the content whole, pinned, without ever meeting the first', async () => {
    const r = await dds(['import', join(dir, 'track.car'), '--repo', b.repo])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.stdout).toBe(`${cid}\n`)
    const got = await dds(['get', cid, '-o', join(dir, 'copy.bin'), '--repo', b.repo])
    expect(got.code).toBe(0)
    expect((await readFile(join(dir, 'copy.bin'))).equals(content)).toBe(true)
    const pins = JSON.parse((await dds(['pins', '--json', '--repo', b.repo])).stdout)
    expect(pins).toEqual([expect.objectContaining({ cid, kind: 'local', state: 'complete', size: content.byteLength })])
    const peers = JSON.parse((await dds(['peers', '--json', '--repo', b.repo])).stdout)
    expect(peers).toEqual([])
  })

  it('import - reads stdin; --json gives the roots, blocks and bytes', async () => {
    const r = await dds(['import', '-', '--json', '--repo', b.repo], { input: await readFile(join(dir, 'track.car')) })
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toEqual({ roots: [cid], blocks: 5, bytes: expect.any(Number) })
  })

  it('export of content the daemon does not hold fails with one line and exit code 1', async () => {
    const unknown = 'zb2rhe5P4gXftAwvA4eXQ5HJwsER2owDyS9sKaQRRVQPn93bA'
    const r = await dds(['export', unknown, '-o', join(dir, 'none.car'), '--repo', b.repo])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/^dds: not found: .*not in this node's store.*\n$/)
    expect(existsSync(join(dir, 'none.car'))).toBe(false)
    expect((await readdir(dir)).filter(name => name.endsWith('.dds-partial'))).toEqual([])
  })

  it('export refuses a bad CID and a directory as its output (exit 2)', async () => {
    const bad = await dds(['export', 'zb2rhe5P4gXf', '--repo', a.repo])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/^dds: .*cut short/)
    const intoDir = await dds(['export', cid, '-o', dir, '--repo', a.repo])
    expect(intoDir.code).toBe(2)
    expect(intoDir.stderr).toMatch(/is a directory/)
  })

  it('import refuses a damaged CAR (exit 1), a file that is not a CAR (exit 2) and a missing file (exit 1), pinning nothing', async () => {
    const car = await readFile(join(dir, 'track.car'))
    const damaged = Buffer.from(car)
    damaged[damaged.byteLength - 10] = damaged[damaged.byteLength - 10]! ^ 0xff
    await writeFile(join(dir, 'damaged.car'), damaged)
    const c = await startDaemon(join(dir, 'c'))
    try {
      const r = await dds(['import', join(dir, 'damaged.car'), '--repo', c.repo])
      expect(r.code).toBe(1)
      expect(r.stderr).toMatch(/^dds: block \d+ of the CAR, z\w+, does not match its CID/)
      const notCar = await dds(['import', join(dir, 'track.bin'), '--repo', c.repo])
      expect(notCar.code).toBe(2)
      expect(notCar.stderr).toMatch(/^dds: (not a valid CAR|the CAR)/)
      const missing = await dds(['import', join(dir, 'nope.car'), '--repo', c.repo])
      expect(missing.code).toBe(1)
      expect(missing.stderr).toBe(`dds: file not found: ${join(dir, 'nope.car')}\n`)
      expect(JSON.parse((await dds(['pins', '--json', '--repo', c.repo])).stdout)).toEqual([])
    } finally {
      await c.stop()
    }
  })
})
