#!/usr/bin/env node
/**
 * Greedy peers against a real `dds daemon` (its own process, loopback only):
 * 1, 4 and 20 identities (in a process of their own) that each open 4 DDS
 * streams and keep 16 RetrieveChunk requests in flight on each, the most a
 * peer is allowed (64), sending a new request as each answer arrives, while
 * one honest node (a default `Dds`) keeps retrieving the victim's content.
 * With `--slow MIB` the other peer is not greedy but slow: it asks for at
 * most MIB MiB/s (a home link), and the honest node must keep its speed
 * (the pacing must hold nobody back for a slow peer's sake).
 * The greedy identities dial from 127.0.0.1 like the honest node (one
 * address prefix: the case where only per-peer fairness can help), or with
 * `--greedy-from 127.0.N.1` from another prefix.
 *
 * Runs twice: with the victim's default options (no upload limit: on one
 * machine the processes then share its CPU, and whoever decodes fastest
 * takes most), and with the victim's upload capped (`--max-upload`, 16MiB by
 * default), where the node's upload is the bottleneck as on a real link.
 *
 * Prints, per phase, the victim's upload (from its /metrics), the honest
 * node's share of it against its target (at least 1/(n+1) of the upload,
 * within 20%), the honest node's throughput before, the victim's RSS and
 * CPU, and the CPU of the greedy process and of the honest one (on one
 * machine the readers share its cores with the victim).
 *
 *   npm run build && node attack/greedy.mjs [--identities 1,4,20] [--seconds 10] [--size-mib 16] [--greedy-from 127.0.0.1] [--max-upload none,16MiB] [--slow MIB]
 */
import { spawn, execFileSync } from 'node:child_process'
import { once } from 'node:events'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'

const here = dirname(fileURLToPath(import.meta.url))
const bin = join(here, '..', 'dist', 'cli', 'bin.js')
const argText = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? process.argv[i + 1] : fallback
}
const PROTOCOL = '/digisocialblock/dds/0.1.0'
const STREAMS = 4
const PER_STREAM = 16

if (process.argv.includes('--worker')) {
  await worker()
} else {
  await main()
}

/**
 * The greedy identities (`--worker`): reads the target address and chunk
 * CIDs as JSON on stdin, starts `--identities` libp2p nodes dialing from
 * `--from`, prints 'ready' once every stream has its requests in flight and
 * each second the bytes received so far; stops when stdin closes.
 */
async function worker () {
  const { createLibp2p } = await import('libp2p')
  const { tcp } = await import('@libp2p/tcp')
  const { noise } = await import('@chainsafe/libp2p-noise')
  const { yamux } = await import('@chainsafe/libp2p-yamux')
  const { multiaddr } = await import('@multiformats/multiaddr')
  const lp = await import('it-length-prefixed')
  const { CID } = await import('multiformats/cid')
  const { pb } = await import('../dist/pb/index.js')
  const { FrameDecoder } = await import('../dist/network/frame-decoder.js')
  const count = Number(argText('identities', '1'))
  const from = argText('from', '127.0.0.1')
  // a slow peer (`--rate MIB`): asks for at most that many MiB per second
  const rate = argText('rate') == null ? undefined : Number(argText('rate')) * 1024 * 1024
  const lines = createInterface({ input: process.stdin })
  const [first] = await once(lines, 'line')
  const { target, cids } = JSON.parse(first)
  const blocks = cids.map(c => CID.parse(c).bytes)
  let bytes = 0
  let answers = 0
  let opened = 0
  let stopping = false
  const nodes = []
  const frame = (id) => lp.encode.single(pb.Request.encode({ id, retrieveChunk: { cid: blocks[id % blocks.length] } }).finish()).subarray()
  for (let i = 0; i < count; i++) {
    const node = await createLibp2p({
      transports: [tcp({ dialOpts: { localAddress: from } })],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()]
    })
    nodes.push(node)
    for (let s = 0; s < STREAMS; s++) {
      let stream
      try {
        stream = await node.dialProtocol(multiaddr(target), PROTOCOL, { signal: AbortSignal.timeout(30_000) })
      } catch (err) {
        console.error(`greedy identity ${i}: no stream: ${err.message}`)
        continue
      }
      opened++
      const decoder = new FrameDecoder(2 * 1024 * 1024, 64 * 1024 * 1024)
      let next = s * 1_000_000 + i * 7
      let inFlight = 0
      stream.addEventListener('message', (evt) => {
        for (const f of decoder.decode(evt.data)) {
          const response = pb.Response.decode(f.subarray())
          bytes += response.retrieveChunk?.data?.byteLength ?? 0
          answers++
          inFlight--
          if (rate == null && !stopping && stream.writeStatus === 'writable') {
            stream.send(frame(next++))
            inFlight++
          }
        }
      })
      if (rate == null) {
        for (let r = 0; r < PER_STREAM; r++) stream.send(frame(next++))
        inFlight = PER_STREAM
      } else {
        // this stream's part of the rate, in 256 KiB chunks every 100 ms
        let owed = 0
        const tick = setInterval(() => {
          if (stopping || stream.writeStatus !== 'writable') return clearInterval(tick)
          owed += rate / 10 / (256 * 1024) / (count * STREAMS)
          for (; owed >= 1 && inFlight < PER_STREAM; owed--) {
            stream.send(frame(next++))
            inFlight++
          }
          owed = Math.min(owed, PER_STREAM)
        }, 100)
      }
    }
  }
  console.log('ready')
  const report = setInterval(() => { console.log(JSON.stringify({ bytes, answers, opened })) }, 1000)
  lines.on('close', async () => {
    stopping = true
    clearInterval(report)
    await Promise.all(nodes.map(n => n.stop().catch(() => {})))
    process.exit(0)
  })
}

async function main () {
  const { Dds } = await import('../dist/index.js')
  const IDENTITIES = argText('identities', '1,4,20').split(',').map(Number)
  const SECONDS = Number(argText('seconds', '10'))
  const SIZE = Number(argText('size-mib', '16')) * 1024 * 1024
  const FROM = argText('greedy-from', '127.0.0.1')
  const SLOW = argText('slow')
  const rssMiB = pid => Number(/VmRSS:\s+(\d+)/.exec(execFileSync('cat', [`/proc/${pid}/status`]).toString())[1]) / 1024
  const cpuSeconds = pid => {
    const fields = execFileSync('cat', [`/proc/${pid}/stat`]).toString().split(') ')[1].split(' ')
    return (Number(fields[11]) + Number(fields[12])) / 100
  }

  for (const cap of argText('max-upload', 'none,16MiB').split(',')) {
    await victimRuns(cap === 'none' ? undefined : cap)
  }

  async function victimRuns (cap) {
  const dir = await mkdtemp(join(tmpdir(), 'dds-greedy-'))
  const repo = join(dir, 'repo')
  const daemon = spawn(process.execPath, [bin, 'daemon', '--repo', repo, '--listen', '/ip4/127.0.0.1/tcp/0', '--gateway', '127.0.0.1:0', '--json', ...(cap == null ? [] : ['--max-upload', cap])], { stdio: ['ignore', 'pipe', 'inherit'] })
  let honest
  try {
    const [line] = await once(daemon.stdout, 'data')
    const info = JSON.parse(line.toString().split('\n')[0])
    const addr = info.addrs.find(a => a.includes('127.0.0.1'))
    const metric = async (name) => {
      const text = await (await fetch(`${info.gateway}/metrics`)).text()
      return Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? 0)
    }
    const served = () => metric('dds_bytes_served_total')
    const file = join(dir, 'content.bin')
    await writeFile(file, randomBytes(SIZE))
    const publish = spawn(process.execPath, [bin, 'publish', file, '--no-progress', '--repo', repo], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    publish.stdout.on('data', b => { out += b })
    await once(publish, 'exit')
    const cid = out.split(/\s+/).find(w => w.startsWith('zb2'))
    const chunks = (await (await fetch(`${info.gateway}/api/v1/chunks/${cid}`)).json()).cids
    honest = await Dds.create({ bootstrap: [addr] })

    /** The honest node retrieves the content again and again for SECONDS; bytes and failures. */
    const honestPhase = async () => {
      const until = Date.now() + SECONDS * 1000
      const started = Date.now()
      const servedBefore = await served()
      let bytes = 0
      let failed = 0
      const errors = new Map()
      while (Date.now() < until) {
        // a 16 MiB retrieval takes a while under load: count what arrived of the last one too
        let got = 0
        try {
          for await (const piece of honest.retrieve(cid, { signal: AbortSignal.timeout(Math.max(1, until - Date.now())) })) {
            got += piece.byteLength
          }
        } catch (err) {
          if (Date.now() < until - 50) {
            failed++
            errors.set(err.name, (errors.get(err.name) ?? 0) + 1)
          }
        }
        bytes += got
      }
      const elapsed = (Date.now() - started) / 1000
      return { bytes, failed, errors: Object.fromEntries(errors), mibps: bytes / 1048576 / elapsed, upload: (await served()) - servedBefore, elapsed }
    }

    console.log(`victim ${info.peer} (${cap == null ? 'default options, no upload limit' : `upload capped at ${cap}/s`}), ${SIZE / 1048576} MiB content; greedy identities from ${FROM}, ${STREAMS} streams x ${PER_STREAM} requests each; ${SECONDS} s per phase`)
    for (const count of IDENTITIES) {
      const before = await honestPhase()
      const greedy = spawn(process.execPath, [fileURLToPath(import.meta.url), '--worker', '--identities', String(count), '--from', FROM, ...(SLOW == null ? [] : ['--rate', SLOW])], { stdio: ['pipe', 'pipe', 'inherit'] })
      greedy.stdin.write(JSON.stringify({ target: `${addr}`, cids: chunks }) + '\n')
      const greedyLines = createInterface({ input: greedy.stdout })
      let greedyBytes = 0
      let greedyStreams = 0
      greedyLines.on('line', l => { if (l.startsWith('{')) ({ bytes: greedyBytes, opened: greedyStreams } = JSON.parse(l)) })
      await new Promise((resolve, reject) => {
        greedyLines.on('line', l => { if (l === 'ready') resolve() })
        greedy.on('exit', code => { reject(new Error(`the greedy worker exited ${code}`)) })
      })
      const held0 = await metric('dds_upload_pacing_waits_total')
      const cpu0 = cpuSeconds(daemon.pid)
      const greedyCpu0 = cpuSeconds(greedy.pid)
      const honestCpu0 = process.cpuUsage()
      const during = await honestPhase()
      const cpu = cpuSeconds(daemon.pid) - cpu0
      const greedyCpu = cpuSeconds(greedy.pid) - greedyCpu0
      const honestCpuUsage = process.cpuUsage(honestCpu0)
      const honestCpu = (honestCpuUsage.user + honestCpuUsage.system) / 1e6
      const rss = rssMiB(daemon.pid)
      const held = await metric('dds_upload_pacing_waits_total') - held0
      greedy.removeAllListeners('exit')
      greedy.stdin.end()
      await once(greedy, 'exit')
      const share = during.bytes / during.upload
      const fair = 1 / (count + 1)
      const f = p => `${(p.bytes / 1048576).toFixed(0)} MiB in ${p.elapsed.toFixed(1)} s (${p.mibps.toFixed(1)} MiB/s)${p.failed > 0 ? `, ${p.failed} failed ${JSON.stringify(p.errors)}` : ''}`
      const kept = during.mibps / before.mibps
      const costs = `victim RSS ${rss.toFixed(0)} MiB, CPU ${(cpu / during.elapsed * 100).toFixed(0)}% during; CPU of the ${SLOW == null ? 'greedy' : 'slow'} process ${(greedyCpu / during.elapsed * 100).toFixed(0)}%, of the honest one ${(honestCpu / during.elapsed * 100).toFixed(0)}%`
      if (SLOW != null) {
        // a slow peer takes little: the honest one must keep its speed, and nobody be held back for the slow one's sake
        console.log(`slow peer: ${cap == null ? 'defaults' : `upload ${cap}/s`}: ${count} identities asking ${SLOW} MiB/s in all: honest before ${f(before)} | during ${f(during)}; the slow peer received ${(greedyBytes / 1048576).toFixed(0)} MiB | ` +
          `honest during/before ${kept.toFixed(2)}, ${held} answers held back by the pacing; target: the honest peer keeps its speed (>= 0.9) or nothing is held back: ${(kept >= 0.9 || held === 0) && during.failed === 0 ? 'met' : 'MISSED'} | ${costs}`)
        continue
      }
      console.log(`greedy: ${cap == null ? 'defaults' : `upload ${cap}/s`}: ${count} identities: honest before ${f(before)} | during ${f(during)}; victim upload ${(during.upload / 1048576 / during.elapsed).toFixed(1)} MiB/s ` +
        `(greedy received ${(greedyBytes / 1048576).toFixed(0)} MiB in all on ${greedyStreams} streams) | honest share ${share.toFixed(3)}, target >= ${(0.8 * fair).toFixed(3)} (1/${count + 1} within 20%): ${share >= 0.8 * fair && during.failed === 0 ? 'met' : 'MISSED'} | ` +
        `honest during/before ${kept.toFixed(2)} | ${held} answers held back by the pacing | ${costs}`)
    }
  } finally {
    await honest?.stop().catch(() => {})
    daemon.kill('SIGTERM')
    await once(daemon, 'exit').catch(() => {})
    await rm(dir, { recursive: true, force: true })
  }
  }
}
