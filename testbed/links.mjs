#!/usr/bin/env node
// Throughput over one shaped path (issue 13 item 3): a seeder behind a link of
// --rate, --rtt (ms round trip) and --loss (percent per direction), and a
// retriever on an unshaped link. Measured one after the other on the same
// path: ping RTT (the delayer's accuracy), a raw TCP stream (node net), and a
// DDS retrieval from the one seeder; MiB/s, the ratio to the link rate and the
// CPU the delayer spent during each. Runs on dist/ (npm run build).
//
//   npm run testbed:links -- [--rate 100mbit] [--rtt 40] [--loss 1] [--mib 64]
//                            [--window N] [--max-peer-window N] [--runs N]
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createTestbed, testbedAvailable, waitForLine, PROBE } from './index.mjs'
import { SCALE_NODE } from './lib/scale.mjs'

const DEFAULTS = { rate: '100mbit', rtt: 40, loss: 1, mib: 64, runs: 1 }
const PORT = 4001
const SINK_PORT = 5001

function parseArgs (argv) {
  const o = { ...DEFAULTS }
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase())
    if (!(key in o) && !['window', 'maxPeerWindow'].includes(key)) throw new Error(`unknown flag ${argv[i]}`)
    o[key] = key === 'rate' ? argv[i + 1] : Number(argv[i + 1])
  }
  return o
}

function bitsPerSecond (rate) {
  const m = /^(\d+(?:\.\d+)?)(k|m|g)?bit$/.exec(rate)
  return Number(m[1]) * { undefined: 1, k: 1e3, m: 1e6, g: 1e9 }[m[2]]
}

/** CPU seconds (user + system) of every delayer.py process in the namespace. */
function delayerCpu (ns) {
  const pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split('\n').filter(Boolean)
  let ticks = 0
  for (const pid of pids) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('delayer.py')) continue
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
      ticks += Number(f[11]) + Number(f[12])
    } catch {}
  }
  return ticks / 100
}

async function measure (ns, fn) {
  const cpu0 = delayerCpu(ns)
  const t0 = performance.now()
  const result = await fn()
  const wallS = (performance.now() - t0) / 1000
  return { ...result, delayerCpuPct: Math.round((delayerCpu(ns) - cpu0) / wallS * 100) }
}

function ipcNode (host, init) {
  const child = host.spawnNode(SCALE_NODE, [JSON.stringify(init)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  const pending = new Map()
  let next = 1
  const ready = new Promise((resolve, reject) => {
    child.on('message', m => {
      if (m.id === 0) return resolve(m)
      const p = pending.get(m.id); pending.delete(m.id)
      m.error != null ? p.reject(new Error(m.error.message)) : p.resolve(m)
    })
    child.on('exit', code => reject(new Error(`node exited ${code}`)))
  })
  const call = (op, args) => new Promise((resolve, reject) => {
    const id = next++
    pending.set(id, { resolve, reject })
    child.send({ id, op, ...args })
  })
  return { child, ready, call }
}

async function main () {
  const o = parseArgs(process.argv.slice(2))
  const { ok, reason } = await testbedAvailable()
  if (!ok) { console.error(`testbed unavailable: ${reason}`); process.exit(2) }
  const linkMiBs = bitsPerSecond(o.rate) / 8 / 2 ** 20
  const bytes = o.mib * 2 ** 20
  const tb = await createTestbed()
  try {
    const seeder = await tb.addPublicHost('seeder', { rate: o.rate, delayMs: o.rtt / 2, loss: o.loss / 100 })
    const retriever = await tb.addPublicHost('retriever')
    const ns = tb.internet.ns
    const rows = []
    const row = (what, r) => {
      const mibs = r.bytes != null ? r.bytes / 2 ** 20 / (r.ms / 1000) : undefined
      rows.push({ what, ...r, mibs, ratio: mibs != null ? mibs / linkMiBs : undefined })
      console.error(what, JSON.stringify(rows.at(-1)))
    }

    const p = await measure(ns, () => retriever.ping(seeder, { count: 20, intervalMs: 200 }))
    row('ping', { rttMs: p.rttMs, loss: p.loss, delayerCpuPct: p.delayerCpuPct })

    for (let run = 0; run < o.runs; run++) {
      const tcp = await measure(ns, async () => {
        const sink = retriever.spawnNode(PROBE, ['sink', String(SINK_PORT)], { stdio: ['ignore', 'pipe', 'inherit'] })
        await waitForLine(sink, /^listening/)
        await seeder.execNode(PROBE, ['send', `${retriever.address}:${SINK_PORT}`, String(bytes)], { timeoutMs: 600000 })
        return JSON.parse((await waitForLine(sink, /^\{/, { timeoutMs: 600000 })))
      })
      row('raw TCP', tcp)
    }

    const retrieval = {}
    if (o.window != null) retrieval.window = o.window
    if (o.maxPeerWindow != null) retrieval.maxPeerWindow = o.maxPeerWindow
    const s = ipcNode(seeder, { listen: [`/ip4/${seeder.address}/tcp/${PORT}`] })
    const seederInfo = await s.ready
    const { cid } = await s.call('publish', { size: bytes, seed: 1 })
    const r = ipcNode(retriever, {
      listen: [`/ip4/${retriever.address}/tcp/${PORT}`],
      bootstrap: seederInfo.addrs.filter(a => a.includes('/tcp/')),
      ...(Object.keys(retrieval).length > 0 ? { retrieval } : {})
    })
    await r.ready
    for (let run = 0; run < o.runs; run++) {
      const got = await measure(ns, () => r.call('retrieve', { cid, timeoutMs: 600000 }))
      delete got.id; delete got.sha256
      row('DDS retrieve', got)
    }

    console.log(`path: ${o.rate}, ${o.rtt} ms RTT, ${o.loss} % loss per direction; ${o.mib} MiB; link ${linkMiBs.toFixed(2)} MiB/s` +
      (Object.keys(retrieval).length > 0 ? `; retrieval ${JSON.stringify(retrieval)}` : ''))
    for (const x of rows) {
      const fig = x.what === 'ping'
        ? `rtt min ${x.rttMs.min} avg ${x.rttMs.avg} max ${x.rttMs.max} ms, loss ${(x.loss * 100).toFixed(0)} %`
        : `${x.mibs.toFixed(2)} MiB/s  ${(x.ratio * 100).toFixed(0)} % of link` + (x.firstByteMs != null ? `  first byte ${x.firstByteMs.toFixed(0)} ms` : '')
      console.log(`${x.what.padEnd(14)} ${fig}  delayer CPU ${x.delayerCpuPct} %`)
    }
  } finally {
    await tb.teardown()
  }
}

process.on('SIGINT', () => process.exit(130))
process.on('SIGTERM', () => process.exit(143))
main().then(() => process.exit(0), err => { console.error(err); process.exit(1) })
