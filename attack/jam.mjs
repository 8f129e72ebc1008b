#!/usr/bin/env node
/**
 * Slot jams against a real `dds daemon` (its own process, loopback only):
 * identities that each open 4 DDS streams, send 16 requests on each and
 * never read the answers (RetrieveChunk for a chunk the victim holds, or
 * ReplicationInstructions for random CIDs), while an honest node keeps
 * retrieving the victim's content. Prints the honest node's retrievals,
 * failures and throughput before, during and after each jam, and the
 * victim's RSS and CPU. Each jam runs twice: every identity dialing from
 * 127.0.0.1 (the honest node's address too, one /24 prefix), and the
 * identities spread over several /24 prefixes (127.0.N.1, one prefix per
 * identity, up to `--prefixes`; loopback takes any 127.x address on Linux).
 *
 *   npm run build && node attack/jam.mjs [--identities 6,50] [--seconds 10] [--size-mib 16] [--prefixes 50]
 */
import { spawn, execFileSync } from 'node:child_process'
import { once } from 'node:events'
import { randomBytes, createHash } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { multiaddr } from '@multiformats/multiaddr'
import * as lp from 'it-length-prefixed'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { pb } from '../dist/pb/index.js'
import { Dds } from '../dist/index.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const bin = join(root, 'dist', 'cli', 'bin.js')
const argText = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? process.argv[i + 1] : fallback
}
const IDENTITIES = argText('identities', '6,50').split(',').map(Number)
const SECONDS = Number(argText('seconds', '10'))
const SIZE = Number(argText('size-mib', '16')) * 1024 * 1024
const PREFIXES = Number(argText('prefixes', '50'))
const PROTOCOL = '/digisocialblock/dds/0.1.0'

const rssMiB = pid => Number(/VmRSS:\s+(\d+)/.exec(execFileSync('cat', [`/proc/${pid}/status`]).toString())[1]) / 1024
const cpuSeconds = pid => {
  const fields = execFileSync('cat', [`/proc/${pid}/stat`]).toString().split(') ')[1].split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}
const randomCid = () => CID.createV1(0x55, Digest.create(0x12, createHash('sha256').update(randomBytes(8)).digest())).bytes

async function run (args, repo) {
  const child = spawn(process.execPath, [bin, ...args, '--repo', repo], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', b => { out += b })
  const [code] = await once(child, 'exit')
  if (code !== 0) throw new Error(`dds ${args[0]} exited ${code}`)
  return out.trim()
}

/** The honest node retrieves the content again and again for `seconds`. */
async function honestPhase (honest, cid, seconds) {
  const until = Date.now() + seconds * 1000
  let ok = 0
  let failed = 0
  let bytes = 0
  const errors = new Map()
  const started = Date.now()
  while (Date.now() < until) {
    try {
      const got = await honest.retrieveBytes(cid, { signal: AbortSignal.timeout(60_000) })
      ok++
      bytes += got.byteLength
    } catch (err) {
      failed++
      errors.set(err.name, (errors.get(err.name) ?? 0) + 1)
    }
  }
  const elapsed = (Date.now() - started) / 1000
  return { ok, failed, mibps: bytes / 1048576 / elapsed, errors: Object.fromEntries(errors) }
}

/**
 * `count` identities jamming the victim, from 127.0.0.1 or (`spread`) each
 * from its own /24; resolves with a stop function.
 */
async function jam (count, target, request, spread) {
  const nodes = []
  let opened = 0
  const sources = new Set()
  for (let i = 0; i < count; i++) {
    const localAddress = spread ? `127.0.${1 + (i % PREFIXES)}.1` : '127.0.0.1'
    const node = await createLibp2p({ transports: [tcp({ dialOpts: { localAddress } })], connectionEncrypters: [noise()], streamMuxers: [yamux()], connectionManager: { allow: ['/ip4/127.0.0.1'] } })
    nodes.push(node)
    for (let s = 0; s < 4; s++) {
      try {
        const stream = await node.dialProtocol(target, PROTOCOL, { signal: AbortSignal.timeout(10_000) })
        stream.pause()
        for (let r = 0; r < 16; r++) {
          stream.send(lp.encode.single(pb.Request.encode({ id: r + 1, ...request() }).finish()).subarray())
        }
        opened++
        sources.add(localAddress)
      } catch {}
    }
  }
  return { streams: opened, sources: sources.size, stop: async () => { await Promise.all(nodes.map(n => n.stop().catch(() => {}))) } }
}

const dir = await mkdtemp(join(tmpdir(), 'dds-jam-'))
const repo = join(dir, 'repo')
const daemon = spawn(process.execPath, [bin, 'daemon', '--repo', repo, '--listen', '/ip4/127.0.0.1/tcp/0', '--gateway', '127.0.0.1:0', '--json'], { stdio: ['ignore', 'pipe', 'inherit'] })
let honest
try {
  const [line] = await once(daemon.stdout, 'data')
  const info = JSON.parse(line.toString().split('\n')[0])
  const addr = info.addrs.find(a => a.includes('127.0.0.1'))
  const target = multiaddr(addr)
  const file = join(dir, 'content.bin')
  await writeFile(file, randomBytes(SIZE))
  const cid = (await run(['publish', file, '--no-progress'], repo)).split(/\s+/).find(w => w.startsWith('zb2'))
  const chunks = await (await fetch(`${info.gateway}/api/v1/chunks/${cid}`)).json()
  const held = CID.parse(chunks.cids[0]).bytes
  honest = await Dds.create({ bootstrap: [addr] })
  const kinds = {
    'RetrieveChunk of a held chunk': () => ({ retrieveChunk: { cid: held } }),
    'ReplicationInstruction of random CIDs': () => ({ replicate: { cid: randomCid(), sourcePeerIds: [] } })
  }
  console.log(`victim ${info.peer}, ${SIZE / 1048576} MiB content, honest retrievals for ${SECONDS} s per phase`)
  for (const [kind, request] of Object.entries(kinds)) {
    for (const [count, spread] of IDENTITIES.flatMap(n => [[n, false], [n, true]])) {
      const before = await honestPhase(honest, cid, SECONDS)
      const { stop, streams, sources } = await jam(count, target, request, spread)
      const cpu0 = cpuSeconds(daemon.pid)
      const during = await honestPhase(honest, cid, SECONDS)
      const cpu = cpuSeconds(daemon.pid) - cpu0
      const rss = rssMiB(daemon.pid)
      await stop()
      const after = await honestPhase(honest, cid, SECONDS)
      const f = p => `${p.ok} ok, ${p.failed} failed${p.failed > 0 ? ` ${JSON.stringify(p.errors)}` : ''}, ${p.mibps.toFixed(1)} MiB/s`
      const from = spread ? `${Math.min(count, PREFIXES)} /24 prefixes` : 'one address'
      console.log(`jam: ${count} identities from ${from} x 4 streams x 16 ${kind} (${streams} streams open, from ${sources} source addresses): before ${f(before)} | during ${f(during)} | after ${f(after)} | ` +
        `honest during/before ${(during.mibps / before.mibps).toFixed(2)} (target >= 0.5, 0 failures): ${during.mibps >= 0.5 * before.mibps && during.failed === 0 ? 'met' : 'MISSED'} | victim RSS ${rss.toFixed(0)} MiB, CPU ${(cpu / SECONDS * 100).toFixed(0)}% during`)
    }
  }
} finally {
  await honest?.stop().catch(() => {})
  daemon.kill('SIGTERM')
  await once(daemon, 'exit').catch(() => {})
  await rm(dir, { recursive: true, force: true })
}
