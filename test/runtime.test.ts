import { describe, it, expect } from 'vitest'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'

const run = promisify(execFile)
const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const systemNode = '/usr/bin/node'

async function majorOf (node: string): Promise<number> {
  const { stdout } = await run(node, ['-p', 'process.versions.node'])
  return Number(stdout.trim().split('.')[0])
}

describe('runtime check', () => {
  it('loads on the Node.js the tests run on', async () => {
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', "import('@digisocialblock/dds').then(m => console.log(typeof m.Dds.create))"], { cwd: root })
    expect(stdout.trim()).toBe('function')
  })

  it('names the requirement when loaded on Node.js older than 22', async (ctx) => {
    if (!existsSync(systemNode) || (await majorOf(systemNode)) >= 22) {
      ctx.skip('no Node.js older than 22 on this machine')
    }
    const script = "import('@digisocialblock/dds').then(() => console.log('loaded'), e => console.log(e.name + ': ' + e.message))"
    const { stdout } = await run(systemNode, ['--input-type=module', '-e', script], { cwd: root })
    expect(stdout).toContain('UnsupportedRuntimeError: DDS needs Node.js 22 or newer')
  })
})
