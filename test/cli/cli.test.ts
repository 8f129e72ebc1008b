/**
 * The `dds` command line end to end: two real daemons (B bootstrapped to A)
 * in temp repos on 127.0.0.1, and every command run as a child process, its
 * stdout, stderr and exit code checked.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { randomBytes } from 'node:crypto'
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { closeSync, existsSync, openSync } from 'node:fs'
import { createServer } from 'node:net'
import { access, readFile, readdir, writeFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { CHUNK_SIZE, cidForBlock, cidToString } from '../../src/cid.js'
import { bin, cleanEnv, cleanup, dds, root, startDaemon, tempDir, type Daemon } from './harness.js'

const UNKNOWN_CID = 'zb2rhe5P4gXftAwvA4eXQ5HJwsER2owDyS9sKaQRRVQPn93bA'

describe('dds CLI', () => {
  let dir: string
  let a: Daemon
  let b: Daemon
  /** Started without --bootstrap: it knows no peer until `dds connect`. */
  let c: Daemon
  let track: Buffer
  let trackFile: string
  let cid: string

  beforeAll(async () => {
    dir = await tempDir()
    a = await startDaemon(join(dir, 'a'))
    b = await startDaemon(join(dir, 'b'), ['--bootstrap', a.addrs[0]!])
    c = await startDaemon(join(dir, 'c-lone'))
    track = randomBytes(700_000) // three chunks
    trackFile = join(dir, 'song.wav')
    await writeFile(trackFile, track)
  })

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop(), c?.stop()])
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
    expect(json).toEqual({ cid, size: 700_000, path: out, fetched: 700_000, kept: 0 })
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
    // the whole id, to be pasted into ls --peer
    expect(peers.stdout.split('\n').find(line => line.startsWith('12D3'))).toMatch(new RegExp(`^${a.peer} +direct +/ip4/`))
    expect(peers.stdout.split('\n')[0]).toMatch(/^PEER +PATH +ADDRESS$/)
    expect(JSON.parse((await dds(onB('peers', '--json'))).stdout).find((p: { peer: string }) => p.peer === a.peer)).toMatchObject({ connections: [{ relayed: false }] })
    expect(JSON.parse((await dds(onB('peers', '--json'))).stdout).map((p: { peer: string }) => p.peer)).toContain(a.peer)
    const id = await dds(onB('id'))
    expect(id.stdout).toMatch(new RegExp(`peer id: +${b.peer}`))
    expect(id.stdout).toContain(b.gateway)
    expect(JSON.parse((await dds(onB('id', '--json'))).stdout)).toMatchObject({ peer: b.peer, gateway: b.gateway })
  })

  it('ls --peer for a peer nobody can reach fails within the gateway\'s 10 s with one line and exit code 1', async () => {
    const stranger = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    const r = await dds(['ls', '--peer', stranger, '--repo', c.repo])
    expect(r.code).toBe(1)
    expect(r.stdout).toBe('')
    expect(r.stderr).toBe(`dds: peer ${stranger} did not send its catalog within 10000 ms; \`dds peers\` lists the connected peers, \`dds connect <multiaddr>\` connects to one\n`)
  })

  it('connect joins a daemon started without --bootstrap; peers then lists it', async () => {
    expect((await dds(['peers', '--repo', c.repo])).stdout).toBe('no connected peers\n')
    const r = await dds(onA('connect', c.addrs[0]!))
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.stdout).toBe(`connected to ${c.peer}\n`)
    expect((await dds(onA('peers'))).stdout).toContain(c.peer)
    expect((await dds(['peers', '--repo', c.repo])).stdout).toContain(a.peer)
    const json = await dds(['connect', a.addrs[0]!, '--repo', c.repo, '--json'])
    expect(json.code).toBe(0)
    expect(JSON.parse(json.stdout)).toEqual({ peer: a.peer })
  })

  it('connect refuses a bad address before asking the daemon, and reports one it cannot reach', async () => {
    const bad = await dds(onA('connect', 'not-a-multiaddr'))
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/^dds: [^\n]*not a multiaddr[^\n]*\n$/)
    const noPeer = await dds(onA('connect', '/ip4/127.0.0.1/tcp/1'))
    expect(noPeer.code).toBe(2)
    expect(noPeer.stderr).toMatch(/^dds: [^\n]*no \/p2p\/<peer id> part[^\n]*\n$/)
    const stranger = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    const closed = await dds(onA('connect', `/ip4/127.0.0.1/tcp/${await closedPort()}/p2p/${stranger}`))
    expect(closed.code).toBe(1)
    expect(closed.stderr).toMatch(/^dds: [^\n]+\n$/)
  })

  it('connect to an address where nothing listens fails even for a peer already connected', async () => {
    expect((await dds(onB('peers'))).stdout).toContain(a.peer)
    const address = `/ip4/127.0.0.1/tcp/${await closedPort()}/p2p/${a.peer}`
    const r = await dds(onB('connect', address))
    expect(r.stdout).toBe('')
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(new RegExp(`^dds: could not reach ${address.replace(/\//g, '\\/')} \\([^\n]+\\); this node is connected to that peer through another address\n$`))
    // an address that answers is still fine
    const again = await dds(onB('connect', a.addrs[0]!))
    expect(again.code).toBe(0)
    expect(again.stdout).toBe(`connected to ${a.peer}\n`)
  })

  it('get to a stdout whose reader has gone exits 0 quietly; to a full disk, one line and exit 1', async () => {
    const child = spawn(process.execPath, [bin, 'get', cid, '--repo', a.repo], { cwd: root, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
    child.stdout.destroy()
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    const [code] = await once(child, 'close') as [number | null]
    expect(stderr).toBe('')
    expect(code).toBe(0)
    expect((await dds(onA('stat', cid))).code).toBe(0)
    if (!existsSync('/dev/full')) {
      return
    }
    for (const args of [['get', cid], ['ls']]) {
      const full = openSync('/dev/full', 'w')
      const r = spawnSync(process.execPath, [bin, ...args, '--repo', a.repo], { cwd: root, env: cleanEnv(), stdio: ['ignore', full, 'pipe'], encoding: 'utf8' })
      closeSync(full)
      expect(r.status).toBe(1)
      expect(r.stderr).toBe('dds: cannot write to stdout: no space left on the device\n')
    }
  })

  describe.skipIf(!hasScript())('progress bar on a terminal (run under util-linux `script`; skipped where it is not installed)', () => {
    it('publish and get draw bytes and rate on stderr while stdout holds only the CID or the content', async () => {
      const cidFile = join(dir, 'tty-cid.txt')
      const up = underTty(`${quote(process.execPath)} ${quote(bin)} publish ${quote(trackFile)} --repo ${quote(a.repo)} > ${quote(cidFile)}`)
      expect(up.status).toBe(0)
      const published = await readFile(cidFile, 'utf8')
      expect(published).toMatch(/^z\w+\n$/)
      expect(up.tty).toMatch(/publish \[[=-]+\] \d+% \| [\d.]+ (B|KiB) \/ 683\.6 KiB \| [\d.]+ (B|KiB|MiB|GiB)\/s \| ETA/)
      expect(up.tty).toContain('publish [==============================] 100% | 683.6 KiB / 683.6 KiB')
      expect(up.tty).not.toContain(published.trim())

      const copy = join(dir, 'tty-copy.wav')
      const down = underTty(`${quote(process.execPath)} ${quote(bin)} get ${published.trim()} --repo ${quote(a.repo)} > ${quote(copy)}`)
      expect(down.status).toBe(0)
      expect((await readFile(copy)).equals(track)).toBe(true)
      expect(down.tty).toContain('get [==============================] 100% | 683.6 KiB / 683.6 KiB')
      expect(down.tty).toMatch(/\| [\d.]+ (B|KiB|MiB|GiB)\/s \| ETA/)

      const quiet = underTty(`${quote(process.execPath)} ${quote(bin)} get ${published.trim()} --no-progress --repo ${quote(a.repo)} > ${quote(copy)}`)
      expect(quiet.status).toBe(0)
      expect(quiet.tty).toBe('')
    })

    it('get without -o on a terminal saves under the content\'s name, never over a file without --force, and never writes content to the terminal', async () => {
      const here = join(dir, 'tty-cwd')
      await mkdir(here)
      const get = (extra: string): { status: number | null, tty: string } =>
        underTty(`cd ${quote(here)} && ${quote(process.execPath)} ${quote(bin)} get ${cid} --no-progress --repo ${quote(a.repo)} ${extra}`)
      const first = get('')
      expect(first.status).toBe(0)
      expect(first.tty).toContain('wrote 700000 bytes to Song.wav')
      expect((await readFile(join(here, 'Song.wav'))).equals(track)).toBe(true)
      const again = get('')
      expect(again.status).toBe(1)
      expect(again.tty).toContain('dds: Song.wav already exists; pass --force to overwrite it, or -o FILE to save under another name')
      expect(get('--force').status).toBe(0)
      const toTerminal = get('-o -')
      expect(toTerminal.status).toBe(2)
      expect(toTerminal.tty).toContain('dds: refusing to write content to a terminal')
      expect((await readdir(here)).sort()).toEqual(['Song.wav'])
    })
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
    // a daemon's log lines (time stamp first) may come before its error
    const expectOneLine = (stderr: string): void => {
      expect(stderr.replace(/^\d{4}-\d\d-\d\dT\S+Z (ERROR|WARN |INFO |DEBUG) .*\n/gm, '')).toMatch(/^dds: [^\n]+\n$/)
    }

    it('an unknown command: one line with the suggestion, exit code 2', async () => {
      const r = await dds(['pubish', 'x'])
      expect(r.code).toBe(2)
      expect(r.stderr).toBe('dds: unknown command \'pubish\' (Did you mean publish?)\n')
    })

    it('a bad --api-token or DDS_API_TOKEN', async () => {
      const flag = await dds(onA('id', '--api-token', 'two words'))
      expect(flag.code).toBe(2)
      expect(flag.stderr).toBe('dds: invalid --api-token: an API token is 1 to 1024 printable ASCII characters without spaces\n')
      const env = await dds(onA('id'), { env: { DDS_API_TOKEN: 'line\nbreak' } })
      expect(env.code).toBe(1)
      expect(env.stderr).toBe('dds: invalid environment variable DDS_API_TOKEN: an API token is 1 to 1024 printable ASCII characters without spaces\n')
    })

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
      expect(s.stderr).toContain(`no DDS daemon is running for repo ${stale}: ${join(stale, 'api')} names http://127.0.0.1:${port}, where no daemon answers (connection refused;`)
      const viaEnv = await dds(['peers'], { env: { DDS_API: `http://127.0.0.1:${port}` } })
      expect(viaEnv.code).toBe(1)
      expect(viaEnv.stderr).toContain('no DDS daemon')
      // --repo is a flag: it comes before DDS_API, and --api before both
      const repoFlag = await dds(onA('id', '--json'), { env: { DDS_API: `http://127.0.0.1:${port}` } })
      expect(repoFlag.code).toBe(0)
      expect(JSON.parse(repoFlag.stdout).peer).toBe(a.peer)
      const apiFlag = await dds(['id', '--json', '--repo', stale, '--api', a.gateway])
      expect(JSON.parse(apiFlag.stdout).peer).toBe(a.peer)
    })

    it('missing file', async () => {
      const missing = join(dir, 'no-such-file.wav')
      const r = await dds(onA('publish', missing))
      expect(r.code).toBe(1)
      expectOneLine(r.stderr)
      expect(r.stderr).toBe(`dds: file not found: ${missing}\n`)
    })

    it('a CID cut short says so, and exits 2 from every command', async () => {
      for (const command of ['get', 'stat', 'pin']) {
        const r = await dds(onA(command, cid.slice(0, -1)))
        expect(r.code).toBe(2)
        expect(r.stderr).toBe(`dds: "${cid.slice(0, -1)}" is not a valid CID: it is cut short (48 characters where a DDS CID in base58btc has 49); copy the whole CID\n`)
      }
    })

    it('a chunk CID where content is wanted says what it is, and exits 2 like any malformed input', async () => {
      const chunk = cidToString(cidForBlock(track.subarray(0, CHUNK_SIZE)))
      for (const command of ['get', 'stat', 'pin']) {
        const r = await dds(onB(command, chunk))
        expect(r.stdout).toBe('')
        expect(r.stderr).toBe(`dds: ${chunk} is not the CID of content: it names a block that is not a DDS manifest (a chunk of some content, perhaps); use the CID that publishing the content returned\n`)
        expect(r.code).toBe(2)
      }
    })

    it('a malformed --peer exits 2, as a malformed CID does', async () => {
      const r = await dds(onA('ls', '--peer', 'garbage'))
      expect(r.code).toBe(2)
      expect(r.stderr).toBe('dds: --peer "garbage" is not a peer id; `dds peers` lists the connected peers\' ids (12D3KooW...)\n')
      // the gateway refuses it too, and its 400 is a usage error
      const api = await fetch(`${a.gateway}/api/v1/catalog?peer=garbage`)
      expect(api.status).toBe(400)
      expect((await api.json()).error.message).toBe('"garbage" is not a peer id (such as 12D3KooW...)')
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

describe('a daemon that did not stop cleanly', () => {
  afterAll(cleanup)

  it('leaves <repo>/api behind: clients say no daemon runs, the next daemon overwrites it', async () => {
    const repo = join(await tempDir(), 'repo')
    const first = await startDaemon(repo)
    first.process.kill('SIGKILL')
    await first.stop()
    const apiFile = join(repo, 'api')
    expect((await readFile(apiFile, 'utf8')).trim()).toBe(first.gateway)
    const r = await dds(['id', '--repo', repo])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/^dds: [^\n]+\n$/)
    expect(r.stderr).toContain(`no DDS daemon is running for repo ${repo}: ${apiFile} names ${first.gateway}, where no daemon answers`)
    expect(r.stderr).toContain('start one with `dds daemon`')
    const second = await startDaemon(repo)
    try {
      expect((await readFile(apiFile, 'utf8')).trim()).toBe(second.gateway)
      const id = await dds(['id', '--repo', repo, '--json'])
      expect(id.code).toBe(0)
      expect(JSON.parse(id.stdout)).toMatchObject({ peer: second.peer, gateway: second.gateway })
    } finally {
      expect(await second.stop()).toBe(0)
    }
    await expect(access(apiFile)).rejects.toThrow()
  })
})

function hasScript (): boolean {
  return spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0
}

function quote (text: string): string {
  return `'${text.replace(/'/g, '\'\\\'\'')}'`
}

/**
 * Runs a shell command under a pseudo-terminal with util-linux `script`:
 * what the command writes to the terminal (its stderr, and stdout unless
 * redirected) comes back as `tty`.
 */
function underTty (command: string): { status: number | null, tty: string } {
  const r = spawnSync('script', ['-qefc', command, '/dev/null'], { cwd: root, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' })
  // eslint-disable-next-line no-control-regex
  return { status: r.status, tty: r.stdout.replace(/\u001b(\[[0-9;?]*[A-Za-z]|[78])/g, '\n') }
}

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
