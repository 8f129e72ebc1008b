#!/usr/bin/env node
// Throughput over shaped paths (issue 13 items 2 and 3): seeders each behind
// a link of --rate, --rtt (ms round trip) and --loss (percent per direction),
// and a retriever on an unshaped link. Measured one after the other on the
// same paths: ping RTT (the delayer's accuracy), a raw TCP stream from the
// first seeder (node net), then DDS and Helia side by side, each from one
// seeder and from --seeders seeders holding the same content. Every retrieval
// is a fresh retriever process with default options that joins the seeders
// and retrieves at once (the bench's roles, bench/roles/); the seeders are
// DDS with default options and the bench's light Helia. Reports MiB/s, the
// ratio to one link's rate, the chunk bytes each DDS seeder gave, and the CPU
// the delayers spent. Runs on dist/ (npm run build).
//
//   npm run testbed:links -- [--rate 100mbit] [--rtt 40] [--loss 1] [--mib 64]
//                            [--seeders 4] [--helia 1] [--runs 1]
//                            [--window N] [--max-peer-window N] [--json PATH]
import { execFileSync } from 'node:child_process'
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises'
import { readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createTestbed, testbedAvailable, waitForLine, PROBE } from './index.mjs'
import { fingerprintOf } from '../bench/lib/content.mjs'
import { killAll, startRole } from '../bench/lib/proc.mjs'

const DEFAULTS = { rate: '100mbit', rtt: 40, loss: 1, mib: 64, runs: 1, seeders: 4, helia: 1 }
const PORT = 4001
const SINK_PORT = 5001
const SEED = 13
const CALL_TIMEOUT_MS = 900_000
const RESULTS = fileURLToPath(new URL('./results/', import.meta.url))

function parseArgs (argv) {
  const o = { ...DEFAULTS }
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase())
    if (!(key in o) && !['window', 'maxPeerWindow', 'json'].includes(key)) throw new Error(`unknown flag ${argv[i]}`)
    if (argv[i + 1] == null) throw new Error(`flag ${argv[i]} needs a value`)
    o[key] = ['rate', 'json'].includes(key) ? argv[i + 1] : Number(argv[i + 1])
  }
  if (!Number.isSafeInteger(o.seeders) || o.seeders < 1 || o.seeders > 16) throw new Error(`--seeders must be a whole number in [1, 16], not ${o.seeders}`)
  return o
}

function bitsPerSecond (rate) {
  const m = /^(\d+(?:\.\d+)?)(k|m|g)?bit$/.exec(rate)
  if (m == null) throw new Error(`--rate must look like 100mbit, not ${rate}`)
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

/** One of the bench's roles (bench/roles/) started in `host`'s namespace; resolves once it is ready. */
async function role (host, name, options) {
  return startRole(name, options, { netns: host.ns, label: `${host.name} ${name}` })
}

async function main () {
  const o = parseArgs(process.argv.slice(2))
  const { ok, reason } = await testbedAvailable()
  if (!ok) { console.error(`testbed unavailable: ${reason}`); process.exit(2) }
  const linkMiBs = bitsPerSecond(o.rate) / 8 / 2 ** 20
  const bytes = o.mib * 2 ** 20
  const source = { seed: SEED, size: bytes }
  const expected = await fingerprintOf(source)
  const retrieval = {}
  if (o.window != null) retrieval.window = o.window
  if (o.maxPeerWindow != null) retrieval.maxPeerWindow = o.maxPeerWindow
  const startedAt = new Date().toISOString()
  const dirs = []
  const tb = await createTestbed()
  const rows = []
  try {
    const link = { rate: o.rate, delayMs: o.rtt / 2, loss: o.loss / 100 }
    const seeders = []
    for (let i = 0; i < o.seeders; i++) seeders.push(await tb.addPublicHost(`seeder${i}`, link))
    const retriever = await tb.addPublicHost('retriever')
    const ns = tb.internet.ns
    const row = (what, r) => {
      const mibs = r.bytes != null && r.ms != null ? r.bytes / 2 ** 20 / (r.ms / 1000) : undefined
      rows.push({ what, ...r, mibs, ratio: mibs != null ? mibs / linkMiBs : undefined })
      console.error(what, JSON.stringify(rows.at(-1), (k, v) => k === 'perPeer' ? undefined : v))
    }
    const check = (what, got) => {
      if (got.bytes !== bytes || got.fingerprint !== expected) throw new Error(`${what}: got ${got.bytes} bytes with fingerprint ${got.fingerprint}, expected ${bytes} bytes and ${expected}`)
    }

    const p = await measure(ns, () => retriever.ping(seeders[0], { count: 20, intervalMs: 200 }))
    row('ping', { rttMs: p.rttMs, loss: p.loss, delayerCpuPct: p.delayerCpuPct })

    for (let run = 0; run < o.runs; run++) {
      const tcp = await measure(ns, async () => {
        const sink = retriever.spawnNode(PROBE, ['sink', String(SINK_PORT)], { stdio: ['ignore', 'pipe', 'inherit'] })
        await waitForLine(sink, /^listening/)
        await seeders[0].execNode(PROBE, ['send', `${retriever.address}:${SINK_PORT}`, String(bytes)], { timeoutMs: 600000 })
        return JSON.parse((await waitForLine(sink, /^\{/, { timeoutMs: 600000 })))
      })
      row('raw TCP', tcp)
      if (o.seeders > 1) {
        // every seeder's path at once, each its own stream to the retriever: what the paths carry together
        const all = await measure(ns, async () => {
          const results = await Promise.all(seeders.map(async (seeder, i) => {
            const sink = retriever.spawnNode(PROBE, ['sink', String(SINK_PORT + 1 + i)], { stdio: ['ignore', 'pipe', 'inherit'] })
            await waitForLine(sink, /^listening/)
            return { sink, seeder, port: SINK_PORT + 1 + i }
          }))
          // from the first stream's first byte to the last one's end (each sink reports its first byte to end, and
          // prints when it ends): the senders start apart, so the longest stream alone would overstate the rate
          const got = await Promise.all(results.map(async ({ sink, seeder, port }) => {
            const line = waitForLine(sink, /^\{/, { timeoutMs: 600000 }).then(text => ({ ...JSON.parse(text), endedAt: performance.now() }))
            await seeder.execNode(PROBE, ['send', `${retriever.address}:${port}`, String(bytes)], { timeoutMs: 600000 })
            return line
          }))
          const span = Math.max(...got.map(g => g.endedAt)) - Math.min(...got.map(g => g.endedAt - g.ms))
          return { bytes: got.reduce((sum, g) => sum + g.bytes, 0), ms: span, streams: got.map(g => g.bytes / 2 ** 20 / (g.ms / 1000)) }
        })
        row(`raw TCP ${o.seeders} seeders`, all)
      }
    }

    /** A fresh retriever of `kind` that joins `addrs` and retrieves `cid` once; its figures. */
    const retrieveOnce = async (kind, cid, addrs) => {
      const r = kind === 'DDS'
        ? await role(retriever, 'dds-retriever', { defaults: true, bootstrap: addrs, ...(Object.keys(retrieval).length > 0 ? { retrieval } : {}) })
        : await role(retriever, 'helia-retriever', { dir: await tempDir(dirs, 'links-helia-retriever-'), peers: addrs })
      try {
        const got = await measure(ns, () => r.call('retrieve', { cid, size: bytes }, CALL_TIMEOUT_MS))
        check(`${kind} retrieve`, got)
        return got
      } finally {
        await r.stop()
      }
    }

    /** Seeders of `kind`: the first alone, then all; each publishes the same content. */
    const scenario = async (kind) => {
      const started = []
      const start = async (host) => {
        const s = kind === 'DDS'
          ? await role(host, 'dds-seeder', { defaults: true, listen: [`/ip4/${host.address}/tcp/${PORT}`] })
          : await role(host, 'helia-seeder', { dir: await tempDir(dirs, 'links-helia-seeder-'), listen: [`/ip4/${host.address}/tcp/${PORT + 1}`] })
        started.push(s)
        const { info } = s
        const addr = (info.multiaddrs.find(a => a.includes('/tcp/')) ?? info.multiaddrs[0]).toString()
        const full = addr.includes('/p2p/') ? addr : `${addr}/p2p/${info.peerId}`
        const { cid } = kind === 'DDS' ? await s.call('publish', { source }, CALL_TIMEOUT_MS) : await s.call('import', { source }, CALL_TIMEOUT_MS)
        return { s, addr: full, cid }
      }
      try {
        const first = await start(seeders[0])
        for (let run = 0; run < o.runs; run++) {
          row(`${kind} 1 seeder`, { seeders: 1, ...await retrieveOnce(kind, first.cid, [first.addr]) })
        }
        if (o.seeders > 1) {
          const rest = await Promise.all(seeders.slice(1).map(start))
          const all = [first, ...rest]
          if (all.some(x => x.cid !== first.cid)) throw new Error(`${kind} seeders published different CIDs: ${all.map(x => x.cid).join(' ')}`)
          if (kind === 'DDS') {
            // each joins the first and waits until its announcement reached the DHT, as a seeder of long standing has
            await Promise.all(rest.map(x => x.s.call('connect', { addrs: [first.addr] })))
            await first.s.call('connect', { addrs: [] })
          }
          for (let run = 0; run < o.runs; run++) {
            row(`${kind} ${o.seeders} seeders`, { seeders: o.seeders, ...await retrieveOnce(kind, first.cid, all.map(x => x.addr)) })
          }
        }
      } finally {
        await Promise.all(started.map(s => s.stop()))
      }
    }

    await scenario('DDS')
    if (o.helia !== 0) await scenario('Helia')
  } finally {
    // what was measured is printed and kept, also when a scenario failed
    if (rows.length > 0) {
      print(o, linkMiBs, retrieval, rows)
      await save(o, startedAt, rows)
    }
    // roles left by a failure: their namespaces are about to go
    killAll()
    await tb.teardown()
    await Promise.all(dirs.map(d => rm(d, { recursive: true, force: true })))
  }
}

async function tempDir (dirs, prefix) {
  const d = await mkdtemp(join(tmpdir(), prefix))
  dirs.push(d)
  return d
}

function median (xs) {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? undefined : s[Math.floor((s.length - 1) / 2)]
}

function print (o, linkMiBs, retrieval, rows) {
  console.log(`path: ${o.rate}, ${o.rtt} ms RTT, ${o.loss} % loss per direction, per seeder; ${o.mib} MiB; link ${linkMiBs.toFixed(2)} MiB/s` +
    (Object.keys(retrieval).length > 0 ? `; retrieval ${JSON.stringify(retrieval)}` : ''))
  for (const x of rows) {
    const fig = x.what === 'ping'
      ? `rtt min ${x.rttMs.min} avg ${x.rttMs.avg} max ${x.rttMs.max} ms, loss ${(x.loss * 100).toFixed(0)} %`
      : `${x.mibs.toFixed(2)} MiB/s  ${(x.ratio * 100).toFixed(0)} % of one link` +
        (x.ttfbMs != null ? `  first byte ${x.ttfbMs.toFixed(0)} ms` : '') +
        (x.perPeer != null && Object.keys(x.perPeer).length > 1 ? `  MiB per seeder ${Object.values(x.perPeer).map(b => (b / 2 ** 20).toFixed(0)).join('/')}` : '')
    console.log(`${x.what.padEnd(16)} ${fig}  delayer CPU ${x.delayerCpuPct} %`)
  }
  const rate = (what) => median(rows.filter(x => x.what === what).map(x => x.mibs))
  const one = rate('DDS 1 seeder')
  const many = rate(`DDS ${o.seeders} seeders`)
  const h1 = rate('Helia 1 seeder')
  const hn = rate(`Helia ${o.seeders} seeders`)
  const line = (label, value, target) => console.log(`${label.padEnd(34)} ${value == null ? '-' : value.toFixed(2)}${target != null ? `  (target >= ${target})` : ''}`)
  line('DDS 1 seeder / link rate', one != null ? one / linkMiBs : undefined, 0.8)
  if (o.seeders > 1) line(`DDS ${o.seeders} seeders / 1 seeder`, many != null && one != null ? many / one : undefined, o.seeders === 4 ? 3.2 : undefined)
  if (h1 != null && one != null) line('DDS / Helia, 1 seeder', one / h1, 3)
  if (hn != null && many != null) line(`DDS / Helia, ${o.seeders} seeders`, many / hn, 3)
}

async function save (o, startedAt, rows) {
  const path = o.json ?? join(RESULTS, `links-${startedAt.replace(/[:.]/g, '-')}.json`)
  await mkdir(dirname(path), { recursive: true })
  await writeFile(path, JSON.stringify({ startedAt, options: o, rows }, null, 2))
  console.log(`results: ${path}`)
}

process.on('SIGINT', () => { killAll(); process.exit(130) })
process.on('SIGTERM', () => { killAll(); process.exit(143) })
main().then(() => process.exit(0), err => { console.error(err); process.exit(1) })
