// Role of `bench/compare.mjs`: one DDS node of the checkout given as the
// first argument (its dist/), driven over IPC. A seeder (LevelDB store in a
// temp dir, announcing manifests only) publishes `size` MiB of generated
// content; a retriever (memory store) connects to the given seeders and
// retrieves on demand, reporting its CPU time.
//
//   compare-node.mjs <checkout> seeder <size MiB>   -> { cid, addrs }; ops: cpu
//   compare-node.mjs <checkout> retriever <addrs>   -> { ready }; ops: retrieve { cid }
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { generate } from '../lib/content.mjs'

const [checkout, mode, arg] = process.argv.slice(2)
const { Dds } = await import(pathToFileURL(join(checkout, 'dist', 'index.js')).href)
const common = { listen: ['/ip4/127.0.0.1/tcp/0'], replication: { factor: 1, accept: 'none' }, announce: 'manifest' }
let dir = null
let node
try {
  if (mode === 'seeder') {
    dir = await mkdtemp(join(tmpdir(), 'dds-compare-'))
    node = await Dds.create({ ...common, storage: dir })
    const cid = await node.publish(generate({ seed: 'compare', size: Number(arg) * 2 ** 20 }))
    process.send({ cid, addrs: node.getMultiaddrs().map(String) })
  } else {
    node = await Dds.create({ ...common, storage: 'memory', bootstrap: JSON.parse(arg) })
    process.send({ ready: true })
  }
} catch (err) {
  process.send({ error: err.message })
}

process.on('message', async ({ op, cid }) => {
  try {
    if (op === 'cpu') {
      const cpu = process.cpuUsage()
      process.send({ cpuMs: (cpu.user + cpu.system) / 1000 })
    } else if (op === 'retrieve') {
      const cpuBefore = process.cpuUsage()
      const started = performance.now()
      let bytes = 0
      for await (const piece of node.retrieve(cid)) {
        bytes += piece.byteLength
      }
      const ms = performance.now() - started
      const cpu = process.cpuUsage(cpuBefore)
      process.send({ bytes, ms, cpuMs: (cpu.user + cpu.system) / 1000 })
    }
  } catch (err) {
    process.send({ error: err.message })
  }
})

const stop = async () => {
  await node?.stop().catch(() => {})
  if (dir != null) {
    await rm(dir, { recursive: true, force: true })
  }
  process.exit(0)
}
process.on('SIGTERM', () => { stop() })
process.on('disconnect', () => { stop() })
