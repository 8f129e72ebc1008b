/**
 * Runs examples/music-library/run.mjs as a user would (against the built
 * CLI): two daemons, a WAV track published with metadata on one, listed by
 * the other, and a 206 range answer from the other's gateway.
 */
import { describe, it, expect } from 'vitest'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'

const run = promisify(execFile)
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

describe('examples', () => {
  it('music-library: B lists the track A published and its gateway serves a range of it', async () => {
    // the example's daemons and commands ignore the DDS_* settings of the shell it runs in
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DDS_API: 'http://127.0.0.1:9',
      DDS_BOOTSTRAP: '/ip4/127.0.0.1/tcp/9/p2p/12D3KooWMZf2YWUtMPJMb7zrv2qCA9idWtceGwA7AWJEWhSYtfC3',
      DDS_LISTEN: 'not-a-multiaddr'
    }
    const { stdout } = await run(process.execPath, [join(root, 'examples', 'music-library', 'run.mjs')], {
      cwd: root,
      env,
      timeout: 120_000
    })
    expect(stdout).toMatch(/A published the track: z\w+/)
    expect(stdout).toMatch(/Chord in A +The Sine Ensemble +1\.68 MiB +z\w+/)
    expect(stdout).toContain('B lists "Chord in A" by The Sine Ensemble from A')
    expect(stdout).toMatch(/B's gateway answered 206 \(bytes \d+-\d+\/1764044, audio\/wav\) with the track's exact bytes/)
    expect(stdout).toContain('music library example finished')
  })
})
