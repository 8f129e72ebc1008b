// Command-line options of `npm run bench -- [options]`.
import { parseArgs } from 'node:util'

export const PHASES = ['publish', 'retrieve', 'rss', 'swarm', 'gateway', 'bandwidth', 'cold']

export const USAGE = `Usage: npm run bench -- [options]

  --quick           smoke run: 1 run each, 64 MiB content, 256 MiB for the RSS check, 32 MiB swarm
  --runs N          runs per figure (median, min, max)            default 3 (quick: 1)
  --size MiB        content size for publish and retrieve         default 256 (quick: 64)
  --large MiB       content size for the second RSS figure        default 1024 (quick: 256)
  --swarm-size MiB  content size for the bandwidth-limited swarm  default 256 (quick: 32)
  --rate RATE       tc rate of each swarm seeder's link           default 100mbit
  --phases LIST     comma-separated subset of ${PHASES.join(',')}   default all
  --no-helia        leave Helia out
  --announce WHAT   the DDS seeders' announce strategy: manifest or all   default manifest
  --out FILE        where to write the JSON results               default bench/results/latest.json
  --cpu-prof        write a V8 CPU profile of every role process to bench/results/profiles/
  --verbose         show the role processes' output as they run
  --help            this text`

/** Parses argv into the benchmark's settings. */
export function parseOptions (argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      runs: { type: 'string' },
      size: { type: 'string' },
      large: { type: 'string' },
      'swarm-size': { type: 'string' },
      rate: { type: 'string', default: '100mbit' },
      phases: { type: 'string', default: PHASES.join(',') },
      'no-helia': { type: 'boolean', default: false },
      announce: { type: 'string', default: 'manifest' },
      out: { type: 'string' },
      'cpu-prof': { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false }
    }
  })
  const quick = values.quick
  const phases = values.phases.split(',').map(p => p.trim()).filter(Boolean)
  for (const p of phases) {
    if (!PHASES.includes(p)) {
      throw new Error(`unknown phase "${p}"; choose from ${PHASES.join(', ')}`)
    }
  }
  if (!['manifest', 'all'].includes(values.announce)) {
    throw new Error(`--announce must be manifest or all, got "${values.announce}"`)
  }
  if (phases.includes('retrieve') && !phases.includes('publish')) {
    phases.unshift('publish') // the retrieve phase needs the seeders the publish phase starts
  }
  return {
    help: values.help,
    quick,
    runs: positive('runs', values.runs, quick ? 1 : 3),
    sizeMiB: positive('size', values.size, quick ? 64 : 256),
    largeMiB: positive('large', values.large, quick ? 256 : 1024),
    swarmMiB: positive('swarm-size', values['swarm-size'], quick ? 32 : 256),
    rate: values.rate,
    phases,
    helia: !values['no-helia'],
    announce: values.announce,
    out: values.out,
    cpuProf: values['cpu-prof'],
    verbose: values.verbose
  }
}

function positive (name, text, fallback) {
  if (text == null) {
    return fallback
  }
  const n = Number(text)
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw new Error(`--${name} must be a positive integer, got "${text}"`)
  }
  return n
}
