// `npm run bench -- [options]` (see bench/lib/options.mjs or --help).
//
// Measures DDS next to Helia 7 and the raw limits of the stack it runs on,
// every role in its own OS process over TCP on 127.0.0.1 (and, for the
// bandwidth-limited swarm, in network namespaces it makes and removes).
// Prints a table, the targets of issue 3 met or missed, and writes the
// results as JSON (bench/results/latest.json by default). Every process it
// starts is stopped, and every temporary directory removed, however it ends.
import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import os from 'node:os'
import { fingerprintOf, writeContent } from './lib/content.mjs'
import { parseOptions, USAGE } from './lib/options.mjs'
import { configureRoles, killAll, stopAll } from './lib/proc.mjs'
import { renderText } from './lib/report.mjs'
import { summarize } from './lib/stats.mjs'
import { evaluateTargets, otherRatios } from './lib/targets.mjs'
import { teardown, teardownSync } from './netns.mjs'
import { publishPhase } from './phases/publish.mjs'
import { retrievePhase } from './phases/retrieve.mjs'
import { rssPhase } from './phases/rss.mjs'
import { swarmPhase } from './phases/swarm.mjs'
import { gatewayPhase } from './phases/gateway.mjs'
import { bandwidthPhase } from './phases/bandwidth.mjs'
import { coldPhase } from './phases/cold.mjs'

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url))
const LEVEL_BATCH = 16
const MAIN_SEED = 'main'
const SWARM_SEED = 'swarm'

let tmp = null
let interrupted = false

async function main (options) {
  const started = performance.now()
  const log = (msg) => console.log(`[${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${msg}`)
  const samples = {}
  const errors = []
  const skipped = {}
  tmp = await mkdtemp(join(os.tmpdir(), 'dds-bench-'))
  if (options.cpuProf) {
    await mkdir(join(RESULTS_DIR, 'profiles'), { recursive: true })
  }
  configureRoles({ cpuProfDir: options.cpuProf ? join(RESULTS_DIR, 'profiles') : null, verbose: options.verbose })

  const ctx = {
    options,
    levelBatch: LEVEL_BATCH,
    log,
    content: await makeContent(MAIN_SEED, options.sizeMiB),
    swarmContent: null,
    record (prefix, values) {
      for (const [key, value] of Object.entries(values)) {
        if (typeof value === 'number') {
          (samples[`${prefix}.${key}`] ??= []).push(value)
        }
      }
    },
    async attempt (what, fn) {
      if (interrupted) {
        throw new Error('interrupted')
      }
      try {
        return await fn()
      } catch (err) {
        if (interrupted) {
          throw err
        }
        errors.push({ what, message: err.message, stack: err.remoteStack ?? err.stack })
        log(`FAILED: ${what}: ${err.message}`)
        return null
      }
    },
    skip (part, reason) {
      skipped[part] = reason
      log(`skipping ${part}: ${reason}`)
    },
    tempDir: (name) => mkdtemp(join(tmp, `${name}-`)),
    removeDir: (dir) => rm(dir, { recursive: true, force: true })
  }
  ctx.swarmContent = options.swarmMiB === options.sizeMiB ? ctx.content : await makeContent(SWARM_SEED, options.swarmMiB)

  log(`settings: ${JSON.stringify(settingsOf(options))}`)
  if (options.phases.includes('publish')) {
    const seeders = await publishPhase(ctx)
    if (options.phases.includes('retrieve')) {
      await retrievePhase(ctx, seeders)
    }
    await stopAll()
  }
  if (options.phases.includes('rss')) {
    await rssPhase(ctx)
  }
  if (options.phases.includes('swarm')) {
    await ctx.attempt('swarm', () => swarmPhase(ctx))
  }
  if (options.phases.includes('gateway')) {
    await ctx.attempt('gateway', () => gatewayPhase(ctx))
    await stopAll()
  }
  if (options.phases.includes('bandwidth')) {
    await ctx.attempt('bandwidth', () => bandwidthPhase(ctx))
    await stopAll()
  }
  if (options.phases.includes('cold')) {
    await ctx.attempt('cold', () => coldPhase(ctx))
    await stopAll()
  }

  const figures = Object.fromEntries(Object.entries(samples).map(([key, list]) => [key, summarize(list)]))
  return {
    date: new Date().toISOString(),
    command: commandLine(),
    source: sourceVersion(),
    durationS: Math.round((performance.now() - started) / 1000),
    machine: machine(),
    settings: settingsOf(options),
    figures,
    targets: evaluateTargets(figures, skipped),
    ratios: otherRatios(figures, options.rate),
    skipped,
    errors
  }

  async function makeContent (seed, mib) {
    const size = mib * 1024 * 1024
    const file = join(tmp, `content-${seed}-${mib}MiB.bin`)
    log(`writing ${mib} MiB of random content to ${file}`)
    await writeContent(file, { seed, size })
    return { size, source: { file }, fingerprint: await fingerprintOf({ seed, size }) }
  }
}

/** How this run was started, as a user would type it. */
function commandLine () {
  const args = process.argv.slice(2).join(' ')
  return process.env.npm_lifecycle_event === 'bench'
    ? `npm run bench${args !== '' ? ` -- ${args}` : ''}`
    : `node bench/run.mjs${args !== '' ? ` ${args}` : ''}`
}

/** The commit of the code measured, and whether src/ had uncommitted changes. */
function sourceVersion () {
  const git = (...args) => execFileSync('git', args, { cwd: fileURLToPath(new URL('..', import.meta.url)), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  try {
    return { commit: git('rev-parse', '--short', 'HEAD'), srcModified: git('status', '--porcelain', '--', 'src') !== '' }
  } catch {
    return null
  }
}

function settingsOf (o) {
  return { runs: o.runs, sizeMiB: o.sizeMiB, largeMiB: o.largeMiB, swarmMiB: o.swarmMiB, rate: o.rate, phases: o.phases, helia: o.helia, announce: o.announce, quick: o.quick }
}

function machine () {
  const cpus = os.cpus()
  return {
    nproc: os.availableParallelism(),
    cpu: cpus[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`
  }
}

async function cleanup () {
  await stopAll()
  await teardown()
  if (tmp != null) {
    await rm(tmp, { recursive: true, force: true })
    tmp = null
  }
}

process.on('exit', () => {
  killAll()
  teardownSync()
  if (tmp != null) {
    rmSync(tmp, { recursive: true, force: true })
  }
})
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(signal, () => {
    interrupted = true
    console.error(`\n${signal}: stopping every benchmark process and removing temporary files`)
    cleanup().finally(() => process.exit(130))
  })
}

let options
try {
  options = parseOptions(process.argv.slice(2))
} catch (err) {
  console.error(`${err.message}\n\n${USAGE}`)
  process.exit(2)
}
if (options.help) {
  console.log(USAGE)
  process.exit(0)
}
try {
  const results = await main(options)
  if (interrupted) {
    await new Promise(() => {}) // the signal handler cleans up and exits
  }
  const out = options.out ?? join(RESULTS_DIR, 'latest.json')
  await mkdir(dirname(out), { recursive: true })
  await writeFile(out, JSON.stringify(results, null, 2) + '\n')
  console.log(`\n${renderText(results)}\n\nmachine: ${results.machine.nproc} cores (${results.machine.cpu}), ${results.machine.memoryGiB} GiB, Node ${results.machine.node}; took ${results.durationS} s`)
  console.log(`results written to ${out}`)
  process.exitCode = results.errors.length > 0 ? 1 : 0
} catch (err) {
  if (interrupted) {
    await new Promise(() => {}) // the signal handler cleans up and exits
  }
  console.error(`benchmark failed: ${err.stack ?? err}`)
  process.exitCode = 1
} finally {
  await cleanup()
}
