import { describe, it, expect } from 'vitest'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

/** The npm packages a fresh Node process has loaded through require() after running `code`. */
async function loadedPackages (code: string): Promise<string[]> {
  const script = `
    import { createRequire } from 'node:module'
    ${code}
    const cache = Object.keys(createRequire(import.meta.url)('module')._cache)
    const names = new Set(cache.map(k => k.match(/node_modules\\/((@[^/]+\\/)?[^/]+)/)?.[1]).filter(Boolean))
    console.log(JSON.stringify([...names]))
  `
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: root })
  return JSON.parse(stdout) as string[]
}

describe('the gateway is loaded on demand', () => {
  it('importing the package loads neither fastify nor prom-client; starting a gateway does', async () => {
    const idle = await loadedPackages("await import('./dist/index.js')")
    expect(idle).toContain('protobufjs')
    expect(idle).not.toContain('fastify')
    expect(idle).not.toContain('prom-client')

    const serving = await loadedPackages(`
      const { Dds } = await import('./dist/index.js')
      const { startGateway } = await import('./dist/gateway/index.js')
      const node = await Dds.create({ storage: 'memory', replication: { factor: 1 } })
      const gateway = await startGateway(node, { port: 0 })
      await gateway.close()
      await node.stop()
    `)
    expect(serving).toContain('fastify')
    expect(serving).toContain('prom-client')
  })
})
