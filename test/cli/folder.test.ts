/**
 * Folders and albums from the command line: `dds publish <folder>` makes one
 * collection, `dds list` and `dds stat` show it, `dds get <cid> -o <dir>`
 * on another daemon recreates the tree byte for byte, and the gateway serves
 * an entry by its path with Range. Real daemons from dist/ on 127.0.0.1.
 */
import { describe, it, expect, afterAll } from 'vitest'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { cleanup, dds, startDaemon, tempDir, type Daemon } from './harness.js'
import { pseudoRandomBytes } from '../utils/content.js'

const daemons: Daemon[] = []
afterAll(async () => {
  await Promise.all(daemons.map(async d => d.stop()))
  await cleanup()
})

describe('dds with folders', () => {
  it('publishes a folder as one collection, lists it, and gets the tree on another daemon', async () => {
    const dir = await tempDir()
    const album = join(dir, 'The Album')
    const files: Record<string, Uint8Array> = {
      'disc 1/01 intro.flac': pseudoRandomBytes(300_000, 1),
      'disc 1/02 song.flac': pseudoRandomBytes(600_000, 2),
      'cover.jpg': pseudoRandomBytes(5000, 3),
      'notes/liner notes.txt': new TextEncoder().encode('recorded live\n')
    }
    for (const [path, bytes] of Object.entries(files)) {
      await mkdir(join(album, ...path.split('/').slice(0, -1)), { recursive: true })
      await writeFile(join(album, ...path.split('/')), bytes)
    }
    const a = await startDaemon(join(dir, 'a'))
    daemons.push(a)
    const published = await dds(['publish', album, '--repo', a.repo, '--no-progress'])
    expect(published.code, published.stderr).toBe(0)
    const cid = published.stdout.trim()

    const listed = await dds(['list', cid, '--json', '--repo', a.repo])
    const entries = (JSON.parse(listed.stdout) as { entries: Array<{ path: string, size: number, mediaType?: string }> }).entries
    expect(entries.map(e => e.path)).toEqual(['cover.jpg', 'disc 1/01 intro.flac', 'disc 1/02 song.flac', 'notes/liner notes.txt'])
    expect(entries.find(e => e.path === 'disc 1/01 intro.flac')).toMatchObject({ size: 300_000, mediaType: 'audio/flac' })
    const text = await dds(['list', cid, '--repo', a.repo])
    expect(text.stdout).toMatch(/^PATH +SIZE +TITLE +CID/)
    expect(text.stdout).toContain('4 files')
    const stat = await dds(['stat', cid, '--repo', a.repo])
    expect(stat.stdout).toMatch(/name: +The Album/)
    expect(stat.stdout).toMatch(/entries: +4 files/)

    const b = await startDaemon(join(dir, 'b'), ['--bootstrap', a.addrs[0]!])
    daemons.push(b)
    const out = join(dir, 'copy')
    const got = await dds(['get', cid, '-o', out, '--repo', b.repo, '--no-progress'])
    expect(got.code, got.stderr).toBe(0)
    for (const [path, bytes] of Object.entries(files)) {
      expect(Buffer.compare(await readFile(join(out, ...path.split('/'))), bytes), path).toBe(0)
    }
    // a second get into the same folder does not overwrite without --force
    const again = await dds(['get', cid, '-o', out, '--repo', b.repo, '--no-progress'])
    expect(again.code).toBe(1)
    expect(again.stderr).toContain('already exists')

    // the gateway serves an entry by its path, with Range
    const response = await fetch(`${b.gateway}/dds/${cid}/disc%201/02%20song.flac`, { headers: { Range: 'bytes=1000-1999' } })
    expect(response.status).toBe(206)
    expect(response.headers.get('content-type')).toBe('audio/flac')
    expect(Buffer.compare(Buffer.from(await response.arrayBuffer()), files['disc 1/02 song.flac']!.subarray(1000, 2000))).toBe(0)
    expect((await fetch(`${b.gateway}/dds/${cid}/disc%201/03%20none.flac`)).status).toBe(404)
    expect((await fetch(`${b.gateway}/dds/${cid}/a/..%2F..%2Fb`)).status).toBe(400)
  })

  it('refuses a folder that holds nothing to publish', async () => {
    const dir = await tempDir()
    await mkdir(join(dir, 'empty', 'sub'), { recursive: true })
    const a = await startDaemon(join(dir, 'a'))
    daemons.push(a)
    const published = await dds(['publish', join(dir, 'empty'), '--repo', a.repo, '--no-progress'])
    expect(published.code).toBe(1)
    expect(published.stderr).toContain('holds no file to publish')
  })
})
