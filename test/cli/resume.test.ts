/**
 * `dds get -o FILE` interrupted (SIGKILL, SIGTERM, SIGINT) and run again,
 * against two real daemons: A holds 256 MiB of content, B (bootstrapped to
 * A) serves the gets, fetching every chunk from A (a gateway read does not
 * store what it fetches). What B fetched is read from its `/metrics`
 * (`dds_bytes_fetched_total`), so a resumed get is measured by the network
 * traffic it caused, not only by what the CLI reports.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { createHash, randomBytes } from 'node:crypto'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, open, readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { CHUNK_SIZE } from '../../src/cid.js'
import { waitFor } from '../utils/wait.js'
import { bin, cleanEnv, cleanup, dds, root, startDaemon, tempDir, type Daemon } from './harness.js'

const SIZE = 256 * 1024 * 1024
const CHUNKS = SIZE / CHUNK_SIZE

async function sha256File (path: string): Promise<string> {
  const hash = createHash('sha256')
  await pipeline(createReadStream(path), hash)
  return hash.digest('hex')
}

async function sizeOf (path: string): Promise<number> {
  return stat(path).then(s => s.size, () => 0)
}

/** B's running total of bytes fetched from peers, from its Prometheus metrics. */
async function bytesFetched (daemon: Daemon): Promise<number> {
  const text = await (await fetch(`${daemon.gateway}/metrics`)).text()
  const line = text.split('\n').find(l => l.startsWith('dds_bytes_fetched_total '))
  return Number(line!.split(' ')[1])
}

/** The files in `dir` whose names say they are partial downloads. */
async function partials (dir: string): Promise<string[]> {
  return (await readdir(dir)).filter(name => name.endsWith('.dds-partial'))
}

describe('dds get: interrupted and resumed', () => {
  let dir: string
  let a: Daemon
  let b: Daemon
  let cid: string
  let digest: string

  beforeAll(async () => {
    dir = await tempDir()
    a = await startDaemon(join(dir, 'a'))
    b = await startDaemon(join(dir, 'b'), ['--bootstrap', a.addrs[0]!])
    const source = join(dir, 'big.bin')
    const out = createWriteStream(source)
    const hash = createHash('sha256')
    for (let written = 0; written < SIZE; written += 16 * 1024 * 1024) {
      const piece = randomBytes(16 * 1024 * 1024)
      hash.update(piece)
      if (!out.write(piece)) {
        await once(out, 'drain')
      }
    }
    out.end()
    await once(out, 'finish')
    digest = hash.digest('hex')
    const published = await dds(['publish', source, '--repo', a.repo])
    expect(published.code).toBe(0)
    cid = published.stdout.trim()
  })

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()])
    await cleanup()
  })

  /** Starts `dds get` on B; its stderr is collected. */
  function startGet (args: string[]): { child: ChildProcess, stderr: () => string, exited: Promise<number | null> } {
    const child = spawn(process.execPath, [bin, 'get', cid, ...args, '--repo', b.repo], { cwd: root, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    child.stdout!.resume()
    const exited = once(child, 'exit').then(([code, signal]) => code ?? (signal != null ? -1 : null))
    return { child, stderr: () => stderr, exited }
  }

  /** Waits until the partial file of a get into `out` holds at least `bytes`. */
  async function whenWritten (sub: string, bytes: number): Promise<string> {
    let name: string | undefined
    await waitFor(async () => {
      name = (await partials(sub))[0]
      return name != null && await sizeOf(join(sub, name)) >= bytes
    }, `a partial file of ${bytes} bytes in ${sub}`, 120_000)
    return join(sub, name!)
  }

  it('a get killed at a random point leaves no file under its name; the next fetches at most the missing chunks plus one', async () => {
    const sub = join(dir, 'kill')
    await mkdir(sub)
    const out = join(sub, 'x.bin')
    const get = startGet(['-o', out])
    // a random point between 10% and 90% of the content
    const point = Math.floor(SIZE * (0.1 + 0.8 * Math.random()))
    const partial = await whenWritten(sub, point)
    get.child.kill('SIGKILL')
    await get.exited
    await expect(stat(out)).rejects.toThrow()
    const kept = await sizeOf(partial)
    const missing = CHUNKS - Math.floor(kept / CHUNK_SIZE)

    const before = await bytesFetched(b)
    const again = await dds(['get', cid, '-o', out, '--json', '--repo', b.repo])
    expect(again.stderr).toBe('')
    expect(again.code).toBe(0)
    const fetched = (await bytesFetched(b)) - before
    const report = JSON.parse(again.stdout)
    expect(report).toMatchObject({ cid, size: SIZE, path: out })
    expect(report.kept + report.fetched).toBe(SIZE)
    expect(report.fetched).toBeLessThanOrEqual((missing + 1) * CHUNK_SIZE)
    expect(fetched).toBeLessThanOrEqual((missing + 1) * CHUNK_SIZE)
    expect(fetched).toBeGreaterThanOrEqual(report.fetched)
    console.log(`killed at ${kept} bytes (${missing} of ${CHUNKS} chunks missing); the resumed get fetched ${fetched} bytes over the network (${fetched / CHUNK_SIZE} chunks), received ${report.fetched} over HTTP`)
    expect(await sha256File(out)).toBe(digest)
    expect(await partials(sub)).toEqual([])
  })

  it('SIGTERM keeps the partial file and says so; kept bytes that no longer match their chunk are fetched again', async () => {
    const sub = join(dir, 'term')
    await mkdir(sub)
    const out = join(sub, 'x.bin')
    const get = startGet(['-o', out])
    const partial = await whenWritten(sub, 8 * CHUNK_SIZE)
    get.child.kill('SIGTERM')
    expect(await get.exited).toBe(143)
    expect(get.stderr()).toMatch(new RegExp(`^dds: download of ${cid} interrupted; the [\\d.]+ \\w+ received so far are kept in .*\\.dds-partial, and the same command resumes from there`))
    await expect(stat(out)).rejects.toThrow()
    // a byte changed in the fourth chunk: it and everything after are fetched again
    const file = await open(partial, 'r+')
    const byte = Buffer.alloc(1)
    await file.read(byte, 0, 1, 3 * CHUNK_SIZE + 100)
    byte[0] = byte[0]! ^ 0xff
    await file.write(byte, 0, 1, 3 * CHUNK_SIZE + 100)
    await file.close()

    const again = await dds(['get', cid, '-o', out, '--json', '--repo', b.repo])
    expect(again.code).toBe(0)
    expect(JSON.parse(again.stdout)).toMatchObject({ kept: 3 * CHUNK_SIZE, fetched: SIZE - 3 * CHUNK_SIZE })
    expect(await sha256File(out)).toBe(digest)
    expect(await partials(sub)).toEqual([])
  })

  it('SIGINT with --no-resume removes the partial file; nothing is left under any name', async () => {
    const sub = join(dir, 'int')
    await mkdir(sub)
    const out = join(sub, 'x.bin')
    const get = startGet(['-o', out, '--no-resume'])
    await whenWritten(sub, 4 * CHUNK_SIZE)
    get.child.kill('SIGINT')
    expect(await get.exited).toBe(130)
    expect(get.stderr()).toBe(`dds: download of ${cid} interrupted; nothing was kept\n`)
    expect(await readdir(sub)).toEqual([])
  })
})
