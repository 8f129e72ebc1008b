/**
 * Runs the example scripts as a user would (against the built package) and
 * checks what they print. `npm test` builds the package first (pretest).
 */
import { describe, it, expect } from 'vitest'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'

const run = promisify(execFile)
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

async function example (file: string, env: Record<string, string> = {}): Promise<string> {
  const { stdout } = await run(process.execPath, [join(root, 'examples', file)], {
    cwd: root,
    env: { ...process.env, ...env },
    timeout: 120_000
  })
  return stdout
}

describe('examples', () => {
  it('two-nodes: B retrieves the text A published', async () => {
    const out = await example('two-nodes.js')
    expect(out).toMatch(/A \(12D3Koo\w+\) published z\w+/)
    expect(out).toContain('retrieved 71 bytes: Hello from node A.')
  })

  it('three-nodes: C finds A on the DHT and verifies the content', async () => {
    const out = await example('three-nodes.js')
    const publisher = /A \((12D3Koo\w+)\) published/.exec(out)?.[1]
    expect(publisher).toBeDefined()
    expect(out).toContain(`C got the manifest from ${publisher}: 8 chunks, 2097152 bytes`)
    expect(out).toContain('content verified: C holds exactly what A published')
  })

  it('demo: three processes, the third retrieves and verifies what the first published', async () => {
    const out = await example('demo.js', { DDS_DEMO_MIB: '8' })
    expect(out).toMatch(/published 8 MiB on node 1 .* manifest CID z\w+/)
    expect(out).toContain('retrieved 8388608 bytes on node 3')
    expect(out).toContain('bytes verified: node 3 holds exactly what node 1 published')
    expect(out).toContain('demo finished')
  })
})
