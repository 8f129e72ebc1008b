/**
 * Replicas in the open, end to end with real daemons: `dds pins`,
 * `dds replicas`, `dds drop`, `dds repo stat`, `dds daemon --accept` and
 * `--replica-quota`, `dds pin`'s progress, `dds get -o DIRECTORY`, and the
 * page's section of what a node holds for others.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { randomBytes } from 'node:crypto'
import { spawnSync } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { bin, cleanEnv, cleanup, dds, root, startDaemon, tempDir, type Daemon } from './harness.js'
import { waitForValue } from '../utils/wait.js'

const MiB = 1024 * 1024

interface PinJson { cid: string, kind: string, state: string, size: number, name?: string, for?: string, pinnedAt: number, replication?: { target: number, live: string[], repairing: boolean, lastError?: string } }

async function json<T> (args: string[]): Promise<T> {
  const r = await dds([...args, '--json'])
  if (r.code !== 0) {
    throw new Error(`dds ${args.join(' ')} failed: ${r.stderr}`)
  }
  return JSON.parse(r.stdout) as T
}

/** Publishes `bytes` under `name` on the daemon of `repo`; resolves to the CID. */
async function publish (dir: string, repo: string, name: string, bytes: Buffer): Promise<string> {
  const file = join(dir, name)
  await writeFile(file, bytes)
  const r = await dds(['publish', file, '--repo', repo])
  expect(r.code, r.stderr).toBe(0)
  return r.stdout.trim()
}

/** A replica of `cid` held complete on the daemon of `repo`, once there is one. */
async function heldReplica (repo: string, cid: string): Promise<PinJson> {
  return waitForValue(async () => (await json<PinJson[]>(['replicas', '--repo', repo])).find(p => p.cid === cid && p.state === 'complete'), `a complete replica of ${cid}`)
}

/**
 * The local pin of `cid` on the daemon of `repo` once a replication check
 * has asked every peer and ended on a refusal: `lastError` is written by a
 * refusal and `repairing` is false once every peer was asked.
 */
async function refused (repo: string, cid: string): Promise<PinJson> {
  return waitForValue(async () => (await json<PinJson[]>(['pins', '--repo', repo])).find(p => p.cid === cid && p.replication?.lastError != null && !p.replication.repairing), `a refusal of ${cid}`)
}

describe('replicas held for others (two daemons: B accepts A\'s content)', () => {
  let dir: string
  let a: Daemon
  let b: Daemon
  let song: Buffer
  let cid: string

  beforeAll(async () => {
    dir = await tempDir()
    a = await startDaemon(join(dir, 'a'), ['--replication-factor', '2'])
    b = await startDaemon(join(dir, 'b'), ['--bootstrap', a.addrs[0]!, '--replica-quota', '8MiB'])
    song = randomBytes(MiB + 5000) // five chunks
    cid = await publish(dir, a.repo, 'song.bin', song)
  })

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()])
    await cleanup()
  })

  it('the daemon takes --accept and --replica-quota, and says at start what it holds for others', async () => {
    const help = spawnSync(process.execPath, [bin, 'daemon', '--help'], { cwd: root, env: cleanEnv(), encoding: 'utf8' })
    expect(help.stdout).toContain('--accept <who>')
    expect(help.stdout).toContain('--replica-quota <size>')
    // the JSON line a daemon prints once ready (the harness keeps its fields)
    expect(b).toMatchObject({ accept: 'any', replicaQuota: 8 * MiB })
    expect(a).toMatchObject({ accept: 'any', replicaQuota: 1024 * MiB })
  })

  it('replicas on B lists A\'s content: name, size, for A, since when; --json too', async () => {
    const replica = await heldReplica(b.repo, cid)
    expect(replica).toMatchObject({ cid, kind: 'replica', state: 'complete', size: song.length, name: 'song.bin', for: a.peer })
    expect(replica.pinnedAt).toBeGreaterThan(Date.now() - 5 * 60_000)
    const r = await dds(['replicas', '--repo', b.repo])
    expect(r.code).toBe(0)
    const lines = r.stdout.split('\n')
    expect(lines[0]).toMatch(/^NAME +SIZE +STATE +SINCE \(UTC\) +FOR PEER +CID$/)
    const row = lines.find(line => line.endsWith(cid))!
    expect(row).toMatch(new RegExp(`^song\\.bin +1\\.0\\d MiB +complete +\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d +${a.peer} +${cid}$`))
    // the columns line up: every cell starts where its header does
    expect(row.indexOf(a.peer)).toBe(lines[0]!.indexOf('FOR PEER'))
    expect(r.stdout).toMatch(/1 replica held for other peers; 1\.0\d MiB of the 8\.00 MiB replica quota used; accepts replicas from any peer/)
  })

  it('ls and pins on B do not count the replica as B\'s own; pins on A lists it with its copies', async () => {
    await heldReplica(b.repo, cid)
    expect((await dds(['pins', '--repo', b.repo])).stdout).toContain('this node has pinned nothing')
    expect((await dds(['ls', '--repo', b.repo])).stdout).toMatch(/^this node shares nothing yet; it holds 1 replica \(1\.0\d MiB\) for other peers, listed by `dds replicas`; add content with `dds publish FILE`$/m)
    expect(await json<PinJson[]>(['pins', '--repo', b.repo])).toEqual([])
    const own = await waitForValue(async () => (await json<PinJson[]>(['pins', '--repo', a.repo])).find(p => p.cid === cid && p.replication?.live.length === 2), 'A seeing two copies')
    expect(own).toMatchObject({ kind: 'local', state: 'complete', size: song.length, name: 'song.bin', replication: { target: 2 } })
    const text = (await dds(['pins', '--repo', a.repo])).stdout
    expect(text.split('\n')[0]).toMatch(/^NAME +SIZE +STATE +COPIES +PINNED \(UTC\) +CID$/)
    expect(text.split('\n').find(line => line.endsWith(cid))).toMatch(/^song\.bin +1\.0\d MiB +complete +2\/2 +\d{4}-/)
  })

  it('repo stat on B: store size, nothing pinned, the replica held for A, the quota and A\'s share of it', async () => {
    await heldReplica(b.repo, cid)
    const stat = await json<any>(['repo', 'stat', '--repo', b.repo])
    expect(stat.store.bytes).toBeGreaterThanOrEqual(song.length)
    expect(stat.store.blocks).toBeGreaterThanOrEqual(6)
    expect(stat.pinned).toEqual({ count: 0, bytes: 0, fetching: 0 })
    expect(stat.replicas).toEqual({ count: 1, bytes: song.length, fetching: 0 })
    expect(stat.quota).toEqual({ accept: 'any', bytes: 8 * MiB, used: song.length, perPeerShare: 0.5, perPeerBytes: 4 * MiB })
    expect(stat.peers).toEqual([{ peer: a.peer, replicas: 1, bytes: song.length }])
    const text = (await dds(['repo', 'stat', '--repo', b.repo])).stdout
    expect(text).toMatch(/^store: +1\.0\d MiB \(\d+ bytes\) in \d+ blocks$/m)
    expect(text).toMatch(/^pinned: +0 items, 0 B$/m)
    expect(text).toMatch(/^held for others: +1 replica, 1\.0\d MiB$/m)
    expect(text).toMatch(/^replica quota: +1\.0\d MiB of 8\.00 MiB used \(12\.\d%\); one peer may use 4\.00 MiB$/m)
    expect(text).toMatch(/^replicas from: +any peer$/m)
    expect(text).toMatch(new RegExp(`^PEER +REPLICAS +SIZE +OF ITS SHARE\\n${a.peer} +1 +1\\.0\\d MiB +2\\d\\.\\d%$`, 'm'))
  })

  it('the page of B shows what it holds for others apart from what it shares', async () => {
    await heldReplica(b.repo, cid)
    const html = await (await fetch(`${b.gateway}/`)).text()
    const local = html.slice(html.indexOf('<section class="local">'), html.indexOf('</section>', html.indexOf('<section class="local">')))
    expect(local).toContain('Nothing shared.')
    const held = html.slice(html.indexOf('<section class="held">'), html.indexOf('</section>', html.indexOf('<section class="held">')))
    expect(held).toContain('Held for other peers')
    expect(held).toContain(`data-cid="${cid}"`)
    expect(held).toContain('song.bin')
    expect(held).toContain(a.peer)
    // and A, which holds nothing for others, says so
    expect(await (await fetch(`${a.gateway}/`)).text()).toContain('Nothing held for other peers.')
  })

  it('drop refuses a node\'s own pin (pointing to unpin and gc) and a CID it does not hold', async () => {
    const own = await dds(['drop', cid, '--repo', a.repo])
    expect(own.code).toBe(1)
    expect(own.stderr).toMatch(/^dds: .*is this node's own pin, not a replica.*`dds unpin`.*`dds gc`/)
    const other = await publish(dir, b.repo, 'mine.bin', randomBytes(1000))
    const unknown = await dds(['drop', other, '--repo', a.repo])
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toMatch(/^dds: not found: .*neither a replica nor a pin/)
  })

  it('get -o DIRECTORY saves under the content\'s name there, and never over a file without --force', async () => {
    const out = join(dir, 'downloads')
    await mkdir(out)
    const r = await dds(['get', cid, '-o', out, '--repo', b.repo])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout.trim()).toBe(`wrote ${song.length} bytes to ${join(out, 'song.bin')}`)
    expect((await readFile(join(out, 'song.bin'))).equals(song)).toBe(true)
    const again = await dds(['get', cid, '-o', out, '--repo', b.repo])
    expect(again.code).toBe(1)
    expect(again.stderr).toContain(`${join(out, 'song.bin')} already exists; pass --force`)
    const forced = await dds(['get', cid, '-o', out, '--force', '--repo', b.repo])
    expect(forced.code).toBe(0)
  })

  it('drop removes the replica: B no longer lists it, holds it, nor counts it against the quota', async () => {
    await heldReplica(b.repo, cid)
    const r = await json<{ cid: string, dropped: boolean }>(['drop', cid, '--repo', b.repo])
    expect(r).toEqual({ cid, dropped: true })
    expect(await json<PinJson[]>(['replicas', '--repo', b.repo])).toEqual([])
    expect((await dds(['replicas', '--repo', b.repo])).stdout).toMatch(/^this node holds nothing for other peers; 0 B of the 8\.00 MiB replica quota used/)
    const stat = await json<any>(['repo', 'stat', '--repo', b.repo])
    expect(stat.replicas.count).toBe(0)
    expect(stat.quota.used).toBe(0)
    expect(JSON.parse((await dds(['stat', cid, '--json', '--repo', b.repo])).stdout)).toMatchObject({ cid, local: false })
    const again = await dds(['drop', cid, '--repo', b.repo])
    expect(again.code).toBe(1)
    expect(again.stderr).toContain('neither a replica nor a pin')
    const gc = await json<{ blocksRemoved: number }>(['gc', '--repo', b.repo])
    expect(gc.blocksRemoved).toBeGreaterThanOrEqual(5)
  })

  it('pin on B fetches A\'s content with progress: NDJSON lines from the daemon, one final line from the CLI', async () => {
    const content = randomBytes(2 * MiB)
    const big = await publish(dir, a.repo, 'big.bin', content)
    // the daemon's stream: progress lines, then the pin
    const response = await fetch(`${b.gateway}/api/v1/pin/${big}?progress=1`, { method: 'POST' })
    expect(response.headers.get('content-type')).toMatch(/^application\/x-ndjson/)
    const events = (await response.text()).trim().split('\n').map(line => JSON.parse(line))
    const progress = events.filter(e => e.type === 'progress')
    expect(progress.length).toBeGreaterThanOrEqual(1)
    expect(progress.at(-1)).toEqual({ type: 'progress', cid: big, size: content.length, chunks: 8, bytes: content.length, chunksDone: 8 })
    expect(events.at(-1)).toMatchObject({ type: 'done', pin: { cid: big, kind: 'local', state: 'complete', name: 'big.bin' } })
    // the CLI, not on a terminal: no bar, one line; --json: the pin
    const r = await dds(['pin', big, '--repo', b.repo])
    expect(r.code).toBe(0)
    expect(r.stderr).toBe('')
    expect(r.stdout).toMatch(new RegExp(`^pinned ${big} "big\\.bin" \\(2\\.00 MiB, 8 chunks, local, complete\\) in [\\d.]+ s\\n$`))
    expect(await json<PinJson>(['pin', big, '--repo', b.repo])).toMatchObject({ cid: big, kind: 'local', state: 'complete', size: content.length })
    const pins = await json<PinJson[]>(['pins', '--repo', b.repo])
    expect(pins.map(p => p.cid)).toContain(big)
  })

  it.skipIf(!hasScript())('pin on a terminal draws bytes and chunks fetched on stderr (under util-linux `script`)', async () => {
    const content = randomBytes(3 * MiB)
    const other = await publish(dir, a.repo, 'tty.bin', content)
    const r = spawnSync('script', ['-qefc', `${quote(process.execPath)} ${quote(bin)} pin ${other} --repo ${quote(b.repo)}`, '/dev/null'], { cwd: root, env: cleanEnv(), encoding: 'utf8' })
    expect(r.status).toBe(0)
    // eslint-disable-next-line no-control-regex
    const tty = r.stdout.replace(/\u001b(\[[0-9;?]*[A-Za-z]|[78])/g, '\n')
    expect(tty).toContain('pin [==============================] 100% | 3.00 MiB / 3.00 MiB | 12/12 chunks')
    expect(tty).toContain(`pinned ${other} "tty.bin" (3.00 MiB, 12 chunks, local, complete)`)
  })
})

describe('what a daemon accepts: --accept none and --replica-quota', () => {
  let dir: string
  let a: Daemon
  let none: Daemon
  let small: Daemon

  beforeAll(async () => {
    dir = await tempDir()
    // factor 3: A asks every peer, and each refusal is recorded
    a = await startDaemon(join(dir, 'a'), ['--replication-factor', '3'])
    none = await startDaemon(join(dir, 'none'), ['--bootstrap', a.addrs[0]!, '--accept', 'none'])
    small = await startDaemon(join(dir, 'small'), ['--bootstrap', a.addrs[0]!, '--replica-quota', '1MiB'])
  })

  afterAll(async () => {
    await Promise.all([a?.stop(), none?.stop(), small?.stop()])
    await cleanup()
  })

  it('content larger than a peer\'s share of the quota is refused by it, and nothing is held by --accept none', async () => {
    const cid = await publish(dir, a.repo, 'large.bin', randomBytes(MiB))
    const pin = await refused(a.repo, cid)
    expect(pin.replication!.live).toEqual([a.peer])
    expect(pin.replication!.lastError).toMatch(/holds no replicas for others|would exceed/)
    const text = (await dds(['pins', '--repo', a.repo])).stdout
    expect(text).toContain('copies missing, last refusal:')
    expect(text.split('\n').find(line => line.endsWith(cid))).toMatch(/ 1\/3 /)
    for (const node of [none, small]) {
      expect(await json<PinJson[]>(['replicas', '--repo', node.repo])).toEqual([])
      expect((await json<any>(['repo', 'stat', '--repo', node.repo])).replicas.count).toBe(0)
    }
  })

  it('within the quota a peer holds content, and repo stat shows the quota used; --accept none still holds nothing', async () => {
    const part = randomBytes(300_000)
    const cid = await publish(dir, a.repo, 'part.bin', part)
    await heldReplica(small.repo, cid)
    const stat = await json<any>(['repo', 'stat', '--repo', small.repo])
    expect(stat.quota).toMatchObject({ accept: 'any', bytes: MiB, used: part.length, perPeerBytes: MiB / 2 })
    expect(stat.peers).toEqual([{ peer: a.peer, replicas: 1, bytes: part.length }])
    // A asked the node that accepts nothing too (factor 3 needs both), and it refused
    await refused(a.repo, cid)
    expect(await json<PinJson[]>(['replicas', '--repo', none.repo])).toEqual([])
    const noneStat = await json<any>(['repo', 'stat', '--repo', none.repo])
    expect(noneStat.quota.accept).toBe('none')
    expect((await dds(['repo', 'stat', '--repo', none.repo])).stdout).toMatch(/^replicas from: +no peer \(--accept none\)$/m)
  })
})

function hasScript (): boolean {
  return spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0
}

function quote (text: string): string {
  return `'${text.replace(/'/g, '\'\\\'\'')}'`
}
