/**
 * `dds daemon --log-level` and `--log-format`: the daemon writes one line
 * per event to stderr, as text by default or as JSON lines; `warn` hides
 * the info lines; a bad level or format is a usage error. Real daemons from
 * dist/.
 */
import { describe, it, expect, afterAll } from 'vitest'
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { cleanup, dds, startDaemon, tempDir } from './harness.js'
import { waitFor } from '../utils/wait.js'

afterAll(async () => { await cleanup() })

describe('dds daemon logging', () => {
  it('--log-format json writes a parseable line for start, a publish and stop', async () => {
    const dir = await tempDir()
    const repo = join(dir, 'repo')
    const daemon = await startDaemon(repo, ['--log-format', 'json'])
    const file = join(dir, 'track.wav')
    await writeFile(file, randomBytes(300_000))
    const published = await dds(['publish', file, '--repo', repo])
    expect(published.code, published.stderr).toBe(0)
    const cid = published.stdout.trim()
    await waitFor(() => daemon.stderr().includes('content published'), 'the publish to be logged')
    expect(await daemon.stop()).toBe(0)
    const lines = daemon.stderr().split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l) as Record<string, unknown>)
    for (const line of lines) {
      expect(typeof line.time).toBe('string')
      expect(['error', 'warn', 'info', 'debug']).toContain(line.level)
      expect(String(line.component)).toMatch(/^dds:/)
    }
    expect(lines.find(l => l.msg === 'node started')).toMatchObject({ level: 'info', peer: daemon.peer })
    // a node on a LAN or loopback serves the DHT
    expect(lines.find(l => l.msg === 'DHT mode')).toMatchObject({ level: 'info', mode: 'server' })
    expect(lines.find(l => l.msg === 'content published')).toMatchObject({ cid, name: 'track.wav', size: 300_000 })
    expect(lines.find(l => l.msg === 'node stopped')).toBeDefined()
    expect(lines.filter(l => l.level === 'debug')).toEqual([])
  })

  it('text lines by default; --log-level warn hides the info lines', async () => {
    const dir = await tempDir()
    const text = await startDaemon(join(dir, 'a'))
    await text.stop()
    expect(text.stderr()).toMatch(/^\S+Z INFO  dds:node node started peer=\S+ addrs=\S+$/m)
    const quiet = await startDaemon(join(dir, 'b'), ['--log-level', 'warn'])
    await quiet.stop()
    expect(quiet.stderr()).not.toMatch(/ INFO /)
    expect(quiet.stderr()).not.toContain('node started')
  })

  it('a bad level or format is a usage error', async () => {
    const dir = await tempDir()
    const level = await dds(['daemon', '--repo', join(dir, 'r'), '--log-level', 'loud'])
    expect(level.code).toBe(2)
    expect(level.stderr).toContain('--log-level must be one of error, warn, info, debug, got "loud"')
    const format = await dds(['daemon', '--repo', join(dir, 'r'), '--log-format', 'xml'])
    expect(format.code).toBe(2)
    expect(format.stderr).toContain('--log-format must be one of text, json')
  })
})
