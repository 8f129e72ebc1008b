// The command line of `npm run testbed -- --nodes N ...` (see doc/TESTBED.md).
import { parseRate } from './link.mjs'

/** At most this many nodes (one public host each: the testbed's a.b.1.N range). */
export const MAX_NODES = 250

export const SCALE_USAGE = `npm run testbed -- --nodes N [--delay MS] [--loss PCT] [--rate RATE]
                  [--churn PCT/INTERVAL_S] [--duration S] [--size BYTES] [--retrievals N]
                  [--check-interval S] [--announce N] [--seed N]
  --nodes N           DDS nodes, one process and one namespace each (2-${MAX_NODES})
  --delay MS          each link's one-way delay (node to node round trip: 4 x MS)
  --loss PCT          each link's loss per direction, in percent (0-50)
  --rate RATE         each link's rate per direction, e.g. 100mbit
  --churn PCT/S       kill PCT % of the nodes (SIGKILL) and start fresh ones every S seconds
  --duration S        how long churn runs (default 600)
  --size BYTES        content each publisher publishes (default 1048576)
  --retrievals N      first-byte retrievals (default 50)
  --check-interval S  the nodes' replication check interval (default: DDS's, 300)
  --announce N        one node announces N records in one sweep, and 200 one by one to compare
  --seed N            the seed of every random choice (default: the time)`

function number (flag, text, { min, max, integer = true }) {
  const n = Number(text)
  if (text == null || text === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min || n > max) {
    throw new TypeError(`${flag} takes ${integer ? 'a whole number' : 'a number'} in [${min}, ${max}], not ${JSON.stringify(text ?? null)}`)
  }
  return n
}

/**
 * The scale run's options from argv (without node and the script), or
 * undefined when there is no --nodes (the topology checks run instead).
 * Throws a TypeError naming the flag on bad input.
 *
 * @param {string[]} argv
 */
export function parseScaleArgs (argv) {
  const flags = new Map()
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]
    if (flag === '--hold') { flags.set(flag, true); continue }
    if (!flag.startsWith('--')) throw new TypeError(`unexpected argument ${JSON.stringify(flag)}\n${SCALE_USAGE}`)
    flags.set(flag, argv[++i])
  }
  if (!flags.has('--nodes')) {
    const stray = [...flags.keys()].filter(f => f !== '--hold')
    if (stray.length > 0) throw new TypeError(`${stray.join(', ')} only go with --nodes N\n${SCALE_USAGE}`)
    return undefined
  }
  const opts = {}
  for (const [flag, value] of flags) {
    switch (flag) {
      case '--nodes': opts.nodes = number(flag, value, { min: 2, max: MAX_NODES }); break
      case '--delay': opts.delayMs = number(flag, value, { min: 0, max: 10_000 }); break
      case '--loss': opts.lossPct = number(flag, value, { min: 0, max: 50, integer: false }); break
      case '--rate':
        try { parseRate(value) } catch (err) { throw new TypeError(`--rate: ${err.message}`) }
        opts.rate = value
        break
      case '--churn': {
        const m = /^(\d+(?:\.\d+)?)\/(\d+)$/.exec(String(value))
        if (m == null || Number(m[1]) <= 0 || Number(m[1]) > 90 || Number(m[2]) < 1) {
          throw new TypeError(`--churn takes PCT/INTERVAL_S with PCT in (0, 90] and INTERVAL_S >= 1, e.g. 20/60, not ${JSON.stringify(value ?? null)}`)
        }
        opts.churn = { pct: Number(m[1]), intervalMs: Number(m[2]) * 1000 }
        break
      }
      case '--duration': opts.durationS = number(flag, value, { min: 1, max: 86_400 }); break
      case '--size': opts.sizeBytes = number(flag, value, { min: 1, max: 1024 * 1024 * 1024 }); break
      case '--retrievals': opts.retrievals = number(flag, value, { min: 0, max: 100_000 }); break
      case '--check-interval': opts.checkIntervalMs = 1000 * number(flag, value, { min: 1, max: 86_400 }); break
      case '--announce': opts.announceRecords = number(flag, value, { min: 1, max: 10_000_000 }); break
      case '--seed': opts.seed = number(flag, value, { min: 0, max: 2 ** 32 - 1 }); break
      case '--hold': throw new TypeError('--hold belongs to the topology checks, not to --nodes')
      default: throw new TypeError(`unknown flag ${flag}\n${SCALE_USAGE}`)
    }
  }
  return opts
}
