// `npm run testbed -- --nodes N ...`: a network of N DDS nodes in the
// testbed (lib/scale.mjs), a progress line while it runs, a table at the
// end and the whole result as JSON in testbed/results/. Ctrl-C or a crash
// removes every namespace and process (the testbed's exit hook).
import { mkdirSync, writeFileSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { testbedAvailable } from './index.mjs'
import { runScale } from './lib/scale.mjs'
import { raiseGroupPriority, restoreGroupPriority } from './lib/testbed.mjs'

const RESULTS = fileURLToPath(new URL('./results/', import.meta.url))

function progressLine () {
  const tty = process.stderr.isTTY === true
  let last = ''
  let lastAt = 0
  const started = Date.now()
  return {
    update (text) {
      const line = `[${Math.round((Date.now() - started) / 1000)} s] ${text}`
      if (tty) {
        process.stderr.write(`\r\x1b[K${line.slice(0, (process.stderr.columns ?? 120) - 1)}`)
      } else if (text.split(/[:\d]/)[0] !== last.split(/[:\d]/)[0] || Date.now() - lastAt > 10_000) {
        // not a terminal: a line when the phase changes, else every 10 s
        process.stderr.write(`${line}\n`)
        lastAt = Date.now()
      }
      last = text
    },
    done () { if (tty) process.stderr.write('\r\x1b[K') }
  }
}

function table (rows) {
  const width = Math.max(...rows.map(r => r[0].length))
  for (const [k, v] of rows) console.log(`  ${k.padEnd(width)}  ${v}`)
}

const ms = (x) => x == null ? '-' : `${x} ms`
const s = (x) => x == null ? '-' : `${(x / 1000).toFixed(1)} s`

/** Prints the result as a two-column table. */
export function printResult (r) {
  const o = r.options
  const rows = [
    ['nodes', `${o.nodes} (one per process, one per namespace)`],
    ['links', `${o.delayMs} ms one way (${o.roundTripMs} ms node to node round trip), ${o.lossPct} % loss per link and direction, ${o.rate ?? 'unlimited'}`],
    ['hosts built', s(r.buildMs)],
    ['nodes started', s(r.startMs)],
    ['DHT formed', `${s(r.dhtFormedMs)} after the first start (routing tables ${r.routingTable?.min}/${r.routingTable?.median}/${r.routingTable?.max} min/median/max)`],
    ['RSS per idle node', r.memoryIdle == null ? '-' : `median ${r.memoryIdle.medianMiB} MiB, max ${r.memoryIdle.maxMiB} MiB, all ${r.memoryIdle.totalMiB} MiB`],
    ['published', r.publish == null ? '-' : `${r.publish.contents} x ${r.publish.sizeBytes} bytes in ${s(r.publish.ms)}`]
  ]
  if (r.firstByte != null) {
    const f = r.firstByte
    if (f.retrievals > 0) {
      rows.push(['first byte', `${f.ok}/${f.retrievals} ok; median ${ms(f.firstByteMs.median)}, p95 ${ms(f.firstByteMs.p95)}, max ${ms(f.firstByteMs.max)}`])
      rows.push(['throughput', `median ${f.mibPerS.median ?? '-'} MiB/s, p5 ${f.mibPerS.p5 ?? '-'} MiB/s per retrieval`])
    }
    rows.push(['RSS peak under load', r.memoryLoaded == null ? '-' : `median ${r.memoryLoaded.medianMiB} MiB, max ${r.memoryLoaded.maxMiB} MiB`])
  }
  if (r.announce?.error != null) {
    rows.push(['announcing', `FAILED: ${r.announce.error.slice(0, 300)}`])
  } else if (r.announce != null) {
    const a = r.announce
    const part = (x, n) => `${n} records in ${s(x.ms)} (${x.perS}/s, ${Math.round(x.cpuMs)} ms CPU), ${x.reached} reached a peer, peers per record min ${x.peers.min} median ${x.peers.median}`
    rows.push(['announcing one by one', part(a.single, o.announceSingles)])
    rows.push(['announcing in a sweep', part(a.sweep, o.announceRecords)])
    rows.push(['sweep / one by one', `${a.speedup}x the rate (target >= 10x); found by others: ${a.found.sweep}/${a.found.looked} swept, ${a.found.single}/${a.found.looked} single`])
    if (a.reannounce != null) {
      const re = a.reannounce
      rows.push(['re-announcing all', `${re.cycle.records} records (${re.cycle.reached} reached a peer) in ${s(re.cycle.ms)}, ${Math.round(re.cycle.cpuMs)} ms CPU (the node's, serving included), the whole daily cycle at once; the machine ${Math.round(re.cycle.machineBusy * 100)} % busy`])
      rows.push(['serving meanwhile', `16 MiB retrievals from the node, MiB/s: before ${re.beforeMibs.join(', ')}; during ${re.duringMibs.join(', ')}; after ${re.afterMibs.join(', ')}`])
      rows.push(['during / without', `median ${re.medianMibs.during ?? '-'} during, ${re.medianMibs.without ?? '-'} before and after: ${re.ratio ?? '-'} (target >= 0.9); ${re.failures.length} failed`])
    }
  }
  if (r.churn != null) {
    const c = r.churn
    const joins = c.rounds.map(r => r.rejoinMs).filter(ms => ms != null)
    const joinsText = joins.length === 0 ? '' : `; a round's fresh nodes took ${(Math.min(...joins) / 1000).toFixed(0)}-${(Math.max(...joins) / 1000).toFixed(0)} s to start`
    rows.push(['churn', `${c.pct} % every ${c.intervalMs / 1000} s for ${c.durationS} s: ${c.rounds.length} rounds (kills at ${c.rounds.map(r => r.atS).join(', ')} s)${joinsText}`])
    rows.push(['at factor before churn', c.beforeChurn.ms == null ? `NO (holders ${c.beforeChurn.holders.join(',')})` : `after ${s(c.beforeChurn.ms)}`])
    rows.push(['probes', `${c.probes.ok}/${c.probes.sent} ok (${(100 * (c.probes.successRate ?? 0)).toFixed(1)} %), median ${ms(c.probes.medianMs)}` +
      (c.probes.proberKilled > 0 ? `; ${c.probes.proberKilled} ended by their own node's kill, ${(100 * (c.probes.successRateLiveProbers ?? 0)).toFixed(1)} % of the rest ok` : '') +
      (c.probes.contentGone > 0 ? `; ${c.probes.contentGone} of content gone whole, ${(100 * (c.probes.successRateExisting ?? 0)).toFixed(1)} % of the rest ok` : '')])
    const lost = c.rounds.flatMap((round, k) => round.lost.map(l => `round ${k + 1}: ${l.cid.slice(-8)} (${l.holders} holders)`))
    if (lost.length > 0) {
      rows.push(['lost every holder at once', `${lost.join('; ')}. At the factor (3) when the round began: gone for good, nothing can repair it; below it: repair had not caught up`])
    }
    rows.push(['back at factor', c.afterChurn.ms == null
      ? `NO within 3 check intervals (holders ${c.afterChurn.holders.join(',')})`
      : `${s(c.afterChurn.ms)} after the last round's kills (${c.afterChurn.checkIntervals} check intervals of ${c.checkIntervalMs / 1000} s)`])
  }
  if (r.idle != null) {
    rows.push(['idle network', `${r.idle.nodes} nodes left alone for ${s(1000 * r.idle.seconds)}: ${r.idle.cores.nodes} cores in their processes (${r.idle.msPerNodeMinute} ms of CPU a minute each), the machine ${r.idle.cores.machine} busy`])
  }
  rows.push(['teardown', s(r.teardownMs)])
  table(rows)
  for (const f of [...(r.firstByte?.failures ?? []), ...(r.announce?.reannounce?.failures ?? []), ...(r.churn?.probes.failures ?? [])].slice(0, 10)) {
    console.log(`  failed: ${JSON.stringify(f)}`)
  }
}

/** Runs, prints, writes JSON; resolves with the exit code. */
export async function main (opts) {
  const available = await testbedAvailable()
  if (!available.ok) {
    console.error(`testbed: cannot run here: ${available.reason}`)
    return 2
  }
  let partial
  /** Writes what was measured so far, and why the run ended early. */
  const writePartial = (cutShort) => {
    if (partial == null) return
    mkdirSync(RESULTS, { recursive: true })
    const file = `${RESULTS}${partial.startedAt.replace(/[:.]/g, '-')}-n${opts.nodes}-partial.json`
    writeFileSync(file, JSON.stringify({ ...partial, cutShort }, null, 2) + '\n')
    process.stderr.write(`testbed: what was measured so far: ${file}\n`)
  }
  for (const signal of ['SIGINT', 'SIGTERM']) {
    // exiting runs the testbed's synchronous teardown (every process, every namespace);
    // what was measured so far is written first
    process.on(signal, () => {
      process.stderr.write(`\ntestbed: ${signal}, removing the network\n`)
      writePartial(signal)
      process.exit(130)
    })
  }
  const { seed, ...rest } = opts
  const progress = progressLine()
  let result
  // the links' delayers and this harness get their CPU however many nodes run (lib/testbed.mjs); put back at exit, whatever ends the run
  raiseGroupPriority()
  process.on('exit', restoreGroupPriority)
  try {
    result = await runScale(rest, { onProgress: progress.update, onStart: (r) => { partial = r }, ...(seed != null ? { seed } : {}) })
  } catch (err) {
    // the network is torn down by now; what it measured before the failure is kept
    writePartial(String(err.message).slice(0, 2000))
    throw err
  } finally {
    progress.done()
  }
  printResult(result)
  await mkdir(RESULTS, { recursive: true })
  const file = `${RESULTS}${result.startedAt.replace(/[:.]/g, '-')}-n${opts.nodes}.json`
  await writeFile(file, JSON.stringify(result, null, 2) + '\n')
  console.log(`\nresult: ${file}`)
  const failedFirst = result.firstByte != null && result.firstByte.ok < result.firstByte.retrievals
  // content a round took whole while at its factor is counted apart (reported above); losing any below it is a failure
  const failedChurn = result.churn != null && (result.churn.afterChurn.ms == null || (result.churn.probes.successRateExisting ?? 0) < 0.99)
  return failedFirst || failedChurn ? 1 : 0
}
