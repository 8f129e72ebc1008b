/**
 * The `dds` command line end to end: two real daemons (B bootstrapped to A)
 * in temp repos on 127.0.0.1, and every command run as a child process, its
 * stdout, stderr and exit code checked.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { randomBytes } from 'node:crypto'
import { execFileSync, spawnSync } from 'node:child_process'
import { createServer } from 'node:net'
import { access, readFile, writeFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { bin, cleanEnv, cleanup, dds, startDaemon, tempDir, type Daemon } from './harness.js'

const UNKNOWN_CID = 'zb2rhe5P4gXftAwvA4eXQ5HJwsER2owDyS9sKaQRRVQPn93bA'

describe('dds CLI', () => {
  let dir: string
  let a: Daemon
  let b: Daemon
  let track: Buffer
  let trackFile: string
  let cid: string

  beforeAll(async () => {
    dir = await tempDir()
    a = await startDaemon(join(dir, 'a'))
    b = await startDaemon(join(dir, 'b'), ['--bootstrap', a.addrs[0]!])
    track = randomBytes(700_000) // three chunks
    trackFile = join(dir, 'song.wav')
    await writeFile(trackFile, track)
  })

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()])
    await cleanup()
  })

  const onA = (...args: string[]): string[] => [...args, '--repo', a.repo]
  const onB = (...args: string[]): string[] => [...args, '--repo', b.repo]

  it('daemon reports its real gateway URL on stdout and in <repo>/api', async () => {
    expect(a.gateway).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(a.gateway).not.toMatch(/:0$/)
    expect((await readFile(join(a.repo, 'api'), 'utf8')).trim()).toBe(a.gateway)
    expect(a.addrs[0]).toContain(`/p2p/${a.peer}`)
  })

  it('publish prints the CID of a file published with --name, --media-type and --meta', async () => {
    const r = await dds(onA('publish', trackFile, '--name', 'Song.wav', '--media-type', 'audio/wav', '--meta', 'title=Blue Sine', '--meta', 'artist=The Oscillators'))
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^z\w+\n$/)
    cid = r.stdout.trim()
  })

  it('publish --json and publish from stdin', async () => {
    const r = await dds(onA('publish', '-', '--json'), { input: 'hello from stdin' })
    expect(r.code).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out).toMatchObject({ size: 16, chunks: 1 })
    expect(out.cid).toMatch(/^z/)
  })

  it('stat shows size, chunks, name, media type and metadata', async () => {
    const r = await dds(onA('stat', cid))
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(cid)
    expect(r.stdout).toContain('700000 bytes')
    expect(r.stdout).toContain('Song.wav')
    expect(r.stdout).toContain('audio/wav')
    expect(r.stdout).toMatch(/meta title: +Blue Sine/)
    expect(r.stdout).toMatch(/meta artist: +The Oscillators/)
    const json = JSON.parse((await dds(onA('stat', cid, '--json'))).stdout)
    expect(json).toMatchObject({
      cid, size: 700_000, chunks: 3, name: 'Song.wav', mediaType: 'audio/wav', local: true,
      metadata: { title: 'Blue Sine', artist: 'The Oscillators' }
    })
  })

  it('get -o writes the exact bytes to a file', async () => {
    const out = join(dir, 'copy.wav')
    const r = await dds(onA('get', cid, '-o', out))
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('700000 bytes')
    expect((await readFile(out)).equals(track)).toBe(true)
    const json = JSON.parse((await dds(onA('get', cid, '-o', out, '--json'))).stdout)
    expect(json).toEqual({ cid, size: 700_000, path: out })
  })

  it('get without -o writes the exact bytes to stdout', async () => {
    const r = await dds(onB('get', cid))
    expect(r.code).toBe(0)
    expect(r.bytes.equals(track)).toBe(true)
  })

  it('ls shows title, artist, size and CID', async () => {
    const r = await dds(onA('ls'))
    expect(r.code).toBe(0)
    const row = r.stdout.split('\n').find(line => line.includes(cid))
    expect(row).toMatch(/Blue Sine +The Oscillators +683\.6 KiB +z\w+/)
    expect(r.stdout.split('\n')[0]).toMatch(/^TITLE +ARTIST +SIZE +CID$/)
    const json = JSON.parse((await dds(onA('ls', '--json'))).stdout)
    expect(json.entries).toEqual(expect.arrayContaining([expect.objectContaining({ cid, size: 700_000, metadata: expect.objectContaining({ title: 'Blue Sine' }) })]))
  })

  it('ls --all on the second daemon sees the first one\'s track with its metadata', async () => {
    const r = await dds(onB('ls', '--all'))
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(`peer ${a.peer}`)
    expect(r.stdout).toMatch(/Blue Sine +The Oscillators +683\.6 KiB +z\w+/)
    const json = JSON.parse((await dds(onB('ls', '--all', '--json'))).stdout)
    const fromA = json.peers.find((p: { peer: string }) => p.peer === a.peer)
    expect(fromA.entries).toEqual(expect.arrayContaining([expect.objectContaining({ cid, metadata: { title: 'Blue Sine', artist: 'The Oscillators' } })]))
    const byPeer = JSON.parse((await dds(onB('ls', '--peer', a.peer, '--json'))).stdout)
    expect(byPeer.entries.map((e: { cid: string }) => e.cid)).toContain(cid)
  })

  it('peers and id', async () => {
    const peers = await dds(onB('peers'))
    expect(peers.code).toBe(0)
    expect(peers.stdout).toContain(a.peer)
    expect(JSON.parse((await dds(onB('peers', '--json'))).stdout).map((p: { peer: string }) => p.peer)).toContain(a.peer)
    const id = await dds(onB('id'))
    expect(id.stdout).toMatch(new RegExp(`peer id: +${b.peer}`))
    expect(id.stdout).toContain(b.gateway)
    expect(JSON.parse((await dds(onB('id', '--json'))).stdout)).toMatchObject({ peer: b.peer, gateway: b.gateway })
  })

  it('pin fetches content onto the second daemon, unpin and gc remove it', async () => {
    const pinned = await dds(onB('pin', cid))
    expect(pinned.code).toBe(0)
    expect(pinned.stdout).toContain(`pinned ${cid}`)
    expect(JSON.parse((await dds(onB('stat', cid, '--json'))).stdout)).toMatchObject({ local: true, pin: 'local' })
    const unpinned = JSON.parse((await dds(onB('unpin', cid, '--json'))).stdout)
    expect(unpinned).toEqual({ removed: true })
    expect((await dds(onB('unpin', cid))).stdout).toContain('was not pinned')
    const gc = await dds(onB('gc', '--json'))
    expect(gc.code).toBe(0)
    expect(JSON.parse(gc.stdout).blocksRemoved).toBeGreaterThanOrEqual(4)
    expect((await dds(onB('gc'))).stdout).toMatch(/^removed 0 blocks/)
  })

  describe('errors: one "dds: " line on stderr and a non-zero exit code', () => {
    const expectOneLine = (stderr: string): void => {
      expect(stderr).toMatch(/^dds: [^\n]+\n$/)
    }

    it('unknown CID', async () => {
      for (const command of ['stat', 'get']) {
        const r = await dds(onA(command, UNKNOWN_CID))
        expect(r.code).toBe(1)
        expectOneLine(r.stderr)
        expect(r.stderr).toMatch(/not found/i)
        expect(r.stdout).toBe('')
      }
    })

    it('no daemon: no api file in the repo, or nothing listening at its URL', async () => {
      const empty = join(dir, 'empty')
      const r = await dds(['ls', '--repo', empty])
      expect(r.code).toBe(1)
      expectOneLine(r.stderr)
      expect(r.stderr).toContain('no DDS daemon')
      expect(r.stderr).toContain('dds daemon')
      const stale = join(dir, 'stale')
      await mkdir(stale)
      const port = await closedPort()
      await writeFile(join(stale, 'api'), `http://127.0.0.1:${port}\n`)
      const s = await dds(['id', '--repo', stale])
      expect(s.code).toBe(1)
      expectOneLine(s.stderr)
      expect(s.stderr).toContain(`no DDS daemon at http://127.0.0.1:${port}`)
      const viaEnv = await dds(['peers'], { env: { DDS_API: `http://127.0.0.1:${port}` } })
      expect(viaEnv.code).toBe(1)
      expect(viaEnv.stderr).toContain('no DDS daemon')
    })

    it('missing file', async () => {
      const missing = join(dir, 'no-such-file.wav')
      const r = await dds(onA('publish', missing))
      expect(r.code).toBe(1)
      expectOneLine(r.stderr)
      expect(r.stderr).toBe(`dds: file not found: ${missing}\n`)
    })

    it('bad CID, bad --meta and a bad media type are usage errors (exit code 2)', async () => {
      const bad = await dds(onA('get', 'not-a-cid'))
      expect(bad.code).toBe(2)
      expectOneLine(bad.stderr)
      expect(bad.stderr).toContain('not-a-cid')
      const meta = await dds(onA('publish', trackFile, '--meta', 'title'))
      expect(meta.code).toBe(2)
      expectOneLine(meta.stderr)
      expect(meta.stderr).toContain('key=value')
      const mediaType = await dds(onA('publish', trackFile, '--media-type', 'audio'))
      expect(mediaType.code).toBe(2)
      expectOneLine(mediaType.stderr)
      expect(mediaType.stderr).toContain('mediaType must be a media type')
      const twice = await dds(onA('publish', trackFile, '--meta', 'title=a', '--meta', 'title=b'))
      expect(twice.code).toBe(2)
      expect(twice.stderr).toBe('dds: --meta title is given twice\n')
      const both = await dds(onA('ls', '--all', '--peer', a.peer))
      expect(both.code).toBe(2)
      expectOneLine(both.stderr)
    })

    it('gateway port taken', async () => {
      const port = new URL(a.gateway).port
      const r = await dds(['daemon', '--repo', join(dir, 'c'), '--listen', '/ip4/127.0.0.1/tcp/0', '--gateway', `127.0.0.1:${port}`])
      expect(r.code).toBe(1)
      expectOneLine(r.stderr)
      expect(r.stderr).toContain(`gateway address 127.0.0.1:${port} is already in use`)
      await expect(access(join(dir, 'c', 'api'))).rejects.toThrow()
    })

    it('libp2p listen address taken', async () => {
      const listen = a.addrs[0]!.replace(/\/p2p\/.*$/, '')
      const r = await dds(['daemon', '--repo', join(dir, 'd'), '--listen', listen, '--gateway', '127.0.0.1:0'])
      expect(r.code).toBe(1)
      expectOneLine(r.stderr)
      expect(r.stderr).toContain(`listen address ${listen} is already in use`)
    })

    it('repo in use by another daemon', async () => {
      const r = await dds(['daemon', '--repo', a.repo, '--listen', '/ip4/127.0.0.1/tcp/0', '--gateway', '127.0.0.1:0'])
      expect(r.code).toBe(1)
      expectOneLine(r.stderr)
      expect(r.stderr).toContain(`repo ${a.repo} is in use by another DDS daemon`)
      expect((await readFile(join(a.repo, 'api'), 'utf8')).trim()).toBe(a.gateway)
    })

    it('bad config values name their source', async () => {
      const repo = join(dir, 'e')
      const flag = await dds(['daemon', '--repo', repo, '--gateway', 'localhost'])
      expect(flag.code).toBe(2)
      expect(flag.stderr).toContain('invalid --gateway "localhost"')
      const env = await dds(['daemon', '--repo', repo], { env: { DDS_REPLICATION_FACTOR: 'three' } })
      expect(env.code).toBe(1)
      expect(env.stderr).toContain('DDS_REPLICATION_FACTOR')
      await mkdir(repo, { recursive: true })
      await writeFile(join(repo, 'config.json'), '{"bootstrap": ["/ip4/127.0.0.1/tcp/1"]}')
      const file = await dds(['daemon', '--repo', repo])
      expect(file.code).toBe(1)
      expectOneLine(file.stderr)
      expect(file.stderr).toContain('/p2p/<peer id>')
      expect(file.stderr).toContain(join(repo, 'config.json'))
    })
  })

  it('SIGTERM stops the daemon cleanly and removes <repo>/api', async () => {
    const code = await b.stop()
    expect(code).toBe(0)
    expect(b.stderr()).toContain('stopping')
    await expect(access(join(b.repo, 'api'))).rejects.toThrow()
  })
})

/** A port nothing listens on (bound, then released). */
async function closedPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise(resolve => server.close(resolve))
  return port
}

describe('dds on an old Node.js', () => {
  const oldNode = ['/usr/bin/node', '/usr/local/bin/node'].find(path => {
    try {
      return Number(execFileSync(path, ['-p', 'process.versions.node.split(".")[0]'], { encoding: 'utf8' }).trim()) < 22
    } catch {
      return false
    }
  })

  it.skipIf(oldNode == null)('prints one line naming the required version and exits 1', async () => {
    const r = spawnSync(oldNode!, [bin, 'id'], { encoding: 'utf8', env: cleanEnv() })
    expect(r.status).toBe(1)
    expect(r.stderr).toMatch(/^dds: DDS needs Node\.js 22 or newer; this is Node\.js \d+\.\d+\.\d+\..*\n$/)
  })
})
