#!/usr/bin/env node
/**
 * Gateway attacks against a real `dds daemon` (its own process, loopback
 * only): 200 clients that ask for large content and never read, then 10,000
 * concurrent range requests. Prints the daemon's RSS growth, how long the
 * stalled sockets stay open, and the latency and status of every request.
 *
 *   npm run build && node attack/gateway.mjs [--stalled 200] [--burst 10000] [--size-mib 64]
 */
import { spawn, execFileSync } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises'
import { request } from 'node:http'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { randomBytes } from 'node:crypto'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const bin = join(root, 'dist', 'cli', 'bin.js')
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : fallback
}
const STALLED = arg('stalled', 200)
const BURST = arg('burst', 10_000)
const SIZE = arg('size-mib', 64) * 1024 * 1024
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

function rssMiB (pid) {
  const status = execFileSync('cat', [`/proc/${pid}/status`]).toString()
  return Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024
}

function cpuSeconds (pid) {
  const fields = execFileSync('cat', [`/proc/${pid}/stat`]).toString().split(') ')[1].split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

function established (port) {
  const out = execFileSync('ss', ['-Htn', 'state', 'established', `( sport = :${port} )`]).toString()
  return out.split('\n').filter(l => l.trim() !== '').length
}

async function run (args, repo) {
  const child = spawn(process.execPath, [bin, ...args, '--repo', repo], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', b => { out += b })
  const [code] = await once(child, 'exit')
  if (code !== 0) throw new Error(`dds ${args[0]} exited ${code}`)
  return out.trim()
}

function get (url, headers, timeoutMs) {
  const started = performance.now()
  return new Promise(resolve => {
    const req = request(url, { headers, agent: false }, res => {
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode, ms: performance.now() - started }))
      res.on('error', () => resolve({ status: 'reset', ms: performance.now() - started }))
    })
    req.setTimeout(timeoutMs, () => { req.destroy(); resolve({ status: 'unanswered', ms: timeoutMs }) })
    req.on('error', err => resolve({ status: err.code ?? 'error', ms: performance.now() - started }))
    req.end()
  })
}

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]

const dir = await mkdtemp(join(tmpdir(), 'dds-attack-'))
const repo = join(dir, 'repo')
const daemon = spawn(process.execPath, [...(process.env.DDS_ATTACK_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.DDS_ATTACK_PROF] : []), bin, 'daemon', '--repo', repo, '--listen', '/ip4/127.0.0.1/tcp/0', '--gateway', '127.0.0.1:0', '--json'], { stdio: ['ignore', 'pipe', 'inherit'] })
try {
  const [line] = await once(daemon.stdout, 'data')
  const info = JSON.parse(line.toString().split('\n')[0])
  const url = info.gateway
  const port = Number(new URL(url).port)
  const file = join(dir, 'content.bin')
  await writeFile(file, randomBytes(SIZE))
  const cid = (await run(['publish', file, '--no-progress'], repo)).split(/\s+/).find(w => w.startsWith('zb2'))
  if (cid == null) throw new Error('publish printed no CID')
  await get(`${url}/dds/${cid}`, { range: 'bytes=0-0' }, 30_000)
  const base = rssMiB(daemon.pid)
  console.log(`daemon pid ${daemon.pid}, ${SIZE / 1048576} MiB content ${cid}, RSS ${base.toFixed(0)} MiB`)

  // 1. stalled readers
  const sockets = []
  for (let i = 0; i < STALLED; i++) {
    const s = connect(port, '127.0.0.1', () => {
      s.write(`GET /dds/${cid} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`)
      s.pause()
    })
    s.on('error', () => {})
    sockets.push(s)
  }
  let peak = base
  let closedAt
  const start = Date.now()
  while (Date.now() - start < 60_000) {
    await sleep(1000)
    peak = Math.max(peak, rssMiB(daemon.pid))
    const open = established(port)
    if (closedAt == null && open === 0) closedAt = Date.now() - start
    if (closedAt != null && Date.now() - start > 30_000) break
  }
  const stillOpen = established(port)
  console.log(`stalled clients: ${STALLED}; RSS peak growth ${(peak - base).toFixed(0)} MiB (target <= 200); ` +
    `all sockets closed by the daemon ${closedAt == null ? `NOT within 60 s (${stillOpen} open)` : `after ${(closedAt / 1000).toFixed(0)} s`} (target <= 60 s)`)
  sockets.forEach(s => s.destroy())
  await sleep(1000)

  // 2. a burst of concurrent range requests
  const lagMax = async () => {
    const text = await (await fetch(`${url}/metrics`)).text()
    return Number(/^nodejs_eventloop_lag_max_seconds (\S+)/m.exec(text)?.[1] ?? NaN)
  }
  await lagMax() // the lag figures restart at each scrape
  const before = rssMiB(daemon.pid)
  const cpuBefore = cpuSeconds(daemon.pid)
  const ownCpu = process.cpuUsage()
  const results = await Promise.all(Array.from({ length: BURST }, (_, i) => {
    const offset = (i * 7919 * 1024) % (SIZE - 1000)
    return get(`${url}/dds/${cid}`, { range: `bytes=${offset}-${offset + 999}` }, 120_000)
  }))
  const statuses = {}
  for (const r of results) statuses[r.status] = (statuses[r.status] ?? 0) + 1
  const ms = results.map(r => r.ms).sort((a, b) => a - b)
  console.log(`burst of ${BURST} range GETs: p50 ${(pct(ms, 0.5) / 1000).toFixed(2)} s, p99 ${(pct(ms, 0.99) / 1000).toFixed(2)} s (target <= 5 s), ` +
    `statuses ${JSON.stringify(statuses)}, unanswered ${statuses.unanswered ?? 0} (target 0), RSS ${before.toFixed(0)} -> ${rssMiB(daemon.pid).toFixed(0)} MiB, ` +
    `daemon event loop lag max ${(await lagMax()).toFixed(2)} s, CPU: daemon ${(cpuSeconds(daemon.pid) - cpuBefore).toFixed(1)} s, clients ${((process.cpuUsage(ownCpu).user + process.cpuUsage(ownCpu).system) / 1e6).toFixed(1)} s`)
} finally {
  daemon.kill('SIGTERM')
  await once(daemon, 'exit').catch(() => {})
  await rm(dir, { recursive: true, force: true })
}
