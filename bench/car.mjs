// `npm run bench:car -- [--size-mib N] [--runs N]` (defaults: 1024 MiB, 3 runs).
//
// How fast `exportCar` streams content from a LevelDB store, next to how fast
// the same store reads the same blocks, and how much memory each takes.
// Publishes N MiB of random content into a LevelDB store in a temporary
// directory, then, each pass in a fresh OS process (so that its peak RSS is
// that pass's alone), reads every block of the content:
//
//   store read      storage.get of each block in CAR order, one at a time
//   store read x8   the same with 8 gets in flight (the store's best)
//   read+verify x8  the same, each block then hashed with SHA-256 and
//                   checked against its CID, as an export checks it
//   export          every byte of dds.exportCar(cid): the same blocks, read
//                   8 ahead, each checked against its CID, framed as a CAR
//   exportFast      the same with { verify: false }: chunks unchecked
//
// It prints the median rate of each, export's ratio to each read rate, the
// CPU time each took per GiB (this process's: LevelDB's reads on its thread
// pool count; what other processes take from a shared machine does not),
// and the peak anonymous RSS of each pass. Every process it starts ends with it, and the
// temporary directory is removed however it ends.
import { fork } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const SELF = fileURLToPath(import.meta.url)
const MiB = 1024 * 1024
const PASSES = ['read', 'read8', 'verify8', 'export', 'exportFast']

function option (name, fallback) {
  const at = process.argv.indexOf(`--${name}`)
  return at >= 0 ? Number(process.argv[at + 1]) : fallback
}

/** The children running now: killed if this process ends first. */
const children = new Set()
process.once('exit', () => { children.forEach(proc => proc.kill('SIGKILL')) })

/** Runs this file as a child doing one `task`; resolves to the JSON it sends back. */
async function child (task, args) {
  const proc = fork(SELF, ['--child', task, JSON.stringify(args)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  children.add(proc)
  return new Promise((resolve, reject) => {
    let answer
    proc.once('message', (message) => { answer = message })
    proc.once('exit', (code) => {
      children.delete(proc)
      if (code === 0 && answer != null) {
        resolve(answer)
      } else {
        reject(new Error(`${task} exited with ${code}`))
      }
    })
  })
}

async function openNode (dir) {
  const { Dds } = await import('../dist/index.js')
  return Dds.create({ storage: dir, announce: 'none', replication: { factor: 1 } })
}

/** The child's tasks. */
const tasks = {
  async publish ({ dir, sizeMiB }) {
    const node = await openNode(dir)
    async function * content () {
      for (let i = 0; i < sizeMiB; i++) {
        yield randomBytes(MiB)
      }
    }
    const started = performance.now()
    const cid = await node.publish(content())
    const seconds = (performance.now() - started) / 1000
    await node.stop()
    return { cid, seconds }
  },

  async pass ({ dir, cid, kind }) {
    const node = await openNode(dir)
    const rssBefore = process.memoryUsage().rss
    const anonBefore = rssAnon()
    let anonPeak = anonBefore
    const sampler = setInterval(() => { anonPeak = Math.max(anonPeak, rssAnon()) }, 20)
    const { parseCid, decodeManifest, blockMatchesCid } = await import('../dist/index.js')
    const root = parseCid(cid)
    let bytes = 0
    const cpuBefore = process.cpuUsage()
    const started = performance.now()
    if (kind === 'export' || kind === 'exportFast') {
      for await (const piece of node.exportCar(cid, { verify: kind === 'export' })) {
        bytes += piece.byteLength
      }
    } else {
      const manifest = decodeManifest(await node.storage.get(root))
      if (manifest.children != null) {
        throw new Error('the bench reads single-block manifests only (content up to 6.7 GiB)')
      }
      const cids = [root, ...manifest.chunkCids]
      const inFlight = kind === 'read' ? 1 : 8
      const queue = []
      for (let next = 0; next < cids.length || queue.length > 0;) {
        while (next < cids.length && queue.length < inFlight) {
          const cid = cids[next++]
          queue.push(node.storage.get(cid).then(block => ({ cid, block })))
        }
        const { cid, block } = await queue.shift()
        if (kind === 'verify8' && !blockMatchesCid(cid, block)) {
          throw new Error(`block ${cid} does not match its CID`)
        }
        bytes += block.byteLength
      }
    }
    const seconds = (performance.now() - started) / 1000
    const cpu = process.cpuUsage(cpuBefore)
    clearInterval(sampler)
    anonPeak = Math.max(anonPeak, rssAnon())
    await node.stop()
    // peak RSS of this process, which did nothing but open the node and make this pass
    return {
      kind,
      bytes,
      seconds,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      rssBeforeMiB: rssBefore / MiB,
      peakRssMiB: process.resourceUsage().maxRSS / 1024,
      anonBeforeMiB: anonBefore / MiB,
      anonPeakMiB: anonPeak / MiB
    }
  }
}

/**
 * This process's anonymous resident memory (its heap, buffers and stacks),
 * in bytes, from /proc/self/status. RSS also counts the pages of files the
 * process maps, and LevelDB maps its table files: reading content through
 * the store maps as much of them as it reads, pages the kernel can take
 * back at any time, so total RSS grows with the content for any reader.
 */
function rssAnon () {
  const match = /RssAnon:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))
  return match != null ? Number(match[1]) * 1024 : 0
}

function median (values) {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}

async function main () {
  const sizeMiB = option('size-mib', Number(process.env.DDS_CAR_BENCH_MIB ?? 1024))
  const runs = option('runs', 3)
  const dir = await mkdtemp(join(tmpdir(), 'dds-car-bench-'))
  const cleanup = () => rm(dir, { recursive: true, force: true })
  process.once('SIGINT', () => { cleanup().finally(() => process.exit(130)) })
  try {
    console.log(`publishing ${sizeMiB} MiB of random content into LevelDB at ${dir} ...`)
    const { cid, seconds } = await child('publish', { dir, sizeMiB })
    console.log(`published ${cid} in ${seconds.toFixed(1)} s`)
    const results = Object.fromEntries(PASSES.map(kind => [kind, []]))
    // one warm-up pass (the OS page cache), then the passes in turn, `runs` times
    await child('pass', { dir, cid, kind: 'read' })
    for (let run = 0; run < runs; run++) {
      for (const kind of PASSES) {
        const result = await child('pass', { dir, cid, kind })
        results[kind].push(result)
        console.log(`  run ${run + 1} ${kind.padEnd(10)} ${(result.bytes / MiB / result.seconds).toFixed(0).padStart(6)} MiB/s  ${(result.cpuSeconds / (result.bytes / 1024 / MiB)).toFixed(2)} CPU s/GiB  peak anonymous RSS ${result.anonPeakMiB.toFixed(0)} MiB (${result.anonBeforeMiB.toFixed(0)} MiB before the pass), peak RSS with mapped files ${result.peakRssMiB.toFixed(0)} MiB`)
      }
    }
    const rate = kind => median(results[kind].map(r => r.bytes / MiB / r.seconds))
    const rss = kind => median(results[kind].map(r => r.anonPeakMiB))
    const before = kind => median(results[kind].map(r => r.anonBeforeMiB))
    const cpu = kind => median(results[kind].map(r => r.cpuSeconds / (r.bytes / 1024 / MiB)))
    const summary = {
      sizeMiB,
      runs,
      storeReadMiBps: rate('read'),
      storeRead8MiBps: rate('read8'),
      exportMiBps: rate('export'),
      exportToRead: rate('export') / rate('read'),
      exportToRead8: rate('export') / rate('read8'),
      verify8MiBps: rate('verify8'),
      exportToVerify8: rate('export') / rate('verify8'),
      exportFastMiBps: rate('exportFast'),
      exportFastToRead: rate('exportFast') / rate('read'),
      exportFastToRead8: rate('exportFast') / rate('read8'),
      cpuSecondsPerGiB: Object.fromEntries(PASSES.map(kind => [kind, cpu(kind)])),
      peakAnonRssMiB: Object.fromEntries(PASSES.map(kind => [kind, rss(kind)])),
      anonRssBeforeMiB: Object.fromEntries(PASSES.map(kind => [kind, before(kind)])),
      peakRssWithMappedFilesMiB: { read: median(results.read.map(r => r.peakRssMiB)), export: median(results.export.map(r => r.peakRssMiB)) },
      carBytes: results.export[0].bytes
    }
    console.log('')
    console.log(`content ${sizeMiB} MiB, ${runs} runs, medians`)
    const line = (label, rate, kind) => console.log(`  ${label.padEnd(34)} ${rate.toFixed(0).padStart(5)} MiB/s   ${summary.cpuSecondsPerGiB[kind].toFixed(2)} CPU s/GiB (this process)   peak anonymous RSS ${summary.peakAnonRssMiB[kind].toFixed(0)} MiB (${summary.anonRssBeforeMiB[kind].toFixed(0)} MiB before)`)
    line('store read (1 get at a time)', summary.storeReadMiBps, 'read')
    line('store read (8 gets at a time)', summary.storeRead8MiBps, 'read8')
    line('store read + verify (8 at a time)', summary.verify8MiBps, 'verify8')
    line('exportCar', summary.exportMiBps, 'export')
    console.log(`  export / store read: ${summary.exportToRead.toFixed(2)}x (1 get), ${summary.exportToRead8.toFixed(2)}x (8 gets); target >= 0.8x`)
    line('exportCar { verify: false }', summary.exportFastMiBps, 'exportFast')
    console.log(`  export / store read + verify: ${summary.exportToVerify8.toFixed(2)}x`)
    console.log(`  export { verify: false } / store read: ${summary.exportFastToRead.toFixed(2)}x (1 get), ${summary.exportFastToRead8.toFixed(2)}x (8 gets)`)
    console.log(JSON.stringify(summary))
  } finally {
    await cleanup()
  }
}

if (process.argv[2] === '--child') {
  tasks[process.argv[3]](JSON.parse(process.argv[4])).then((result) => {
    process.send(result, () => process.exit(0))
  }, (err) => {
    console.error(err)
    process.exit(1)
  })
} else {
  main().catch((err) => {
    console.error(err)
    process.exitCode = 1
  })
}
