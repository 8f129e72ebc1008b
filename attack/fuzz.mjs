#!/usr/bin/env node
/**
 * Wire fuzzing against a real `dds daemon` (its own process, loopback only):
 * a million request frames on the DDS protocol, most of them well-formed
 * requests with hostile contents (random and cut CIDs, random sizes and
 * peer ids, catalog cursors), some of them valid encodings with bytes
 * flipped, cut or inserted (1%), random bytes (0.05%). Every answer must decode as
 * a Response; a peer the victim bans (undecodable frames cost it points) is
 * replaced by a new identity. Prints the victim's RSS after the first
 * 100,000 frames and at the end, and checks it still serves content.
 *
 *   npm run build && node attack/fuzz.mjs [--frames 1000000] [--streams 4]
 */
import { spawn, execFileSync } from 'node:child_process'
import { once } from 'node:events'
import { randomBytes, randomInt, createHash } from 'node:crypto'
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
import { Uint8ArrayList } from 'uint8arraylist'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { pb } from '../dist/pb/index.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const bin = join(root, 'dist', 'cli', 'bin.js')
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : fallback
}
const FRAMES = arg('frames', 1_000_000)
const STREAMS = arg('streams', 4)
const IN_FLIGHT = 12
const PROTOCOL = '/digisocialblock/dds/0.1.0'

const rssMiB = pid => Number(/VmRSS:\s+(\d+)/.exec(execFileSync('cat', [`/proc/${pid}/status`]).toString())[1]) / 1024

async function run (args, repo) {
  const child = spawn(process.execPath, [bin, ...args, '--repo', repo], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', b => { out += b })
  const [code] = await once(child, 'exit')
  if (code !== 0) throw new Error(`dds ${args[0]} exited ${code}`)
  return out.trim()
}

/** A raw-leaf sha2-256 CID of random bytes, binary. */
const randomCid = () => CID.createV1(0x55, Digest.create(0x12, createHash('sha256').update(randomBytes(8)).digest())).bytes

function mutate (bytes) {
  let out = Uint8Array.from(bytes)
  for (let n = randomInt(1, 4); n > 0; n--) {
    const i = out.length === 0 ? 0 : randomInt(out.length)
    const kind = randomInt(3)
    if (kind === 0 && out.length > 0) {
      out[i] ^= randomInt(1, 256)
    } else if (kind === 1) {
      out = out.subarray(0, i)
    } else {
      out = Uint8Array.from([...out.subarray(0, i), randomInt(256), ...out.subarray(i)])
    }
  }
  return out
}

/** One request frame, and whether it is meant to be undecodable-prone. */
function frame (id, held) {
  const roll = randomInt(10_000)
  const cidBytes = () => {
    const r = randomInt(6)
    return r === 0 ? randomBytes(randomInt(0, 40)) : r === 1 ? randomCid().subarray(0, randomInt(36)) : r === 2 ? held : randomCid()
  }
  let request
  if (roll < 50) {
    request = { id, retrieveChunk: { cid: held } } // a real chunk: 256 KiB back
  } else if (roll < 3500) {
    request = { id, retrieveChunk: { cid: cidBytes() } }
  } else if (roll < 6000) {
    request = { id, storeChunk: { cid: cidBytes(), data: randomBytes(randomInt(0, 64)) } }
  } else if (roll < 7500) {
    request = { id, replicate: { cid: cidBytes(), sourcePeerIds: Array.from({ length: randomInt(0, 4) }, () => randomBytes(randomInt(0, 40))) } }
  } else if (roll < 9800) {
    request = { id, catalog: { after: randomInt(2) === 0 ? new Uint8Array() : cidBytes(), limit: randomInt(4) === 0 ? 2 ** 32 - 1 : randomInt(0, 2000) } }
  } else {
    request = { id, retrieveChunk: { cid: cidBytes() } }
  }
  const bytes = pb.Request.encode(request).finish()
  if (roll >= 9995) return randomBytes(randomInt(0, 200)) // random bytes
  if (roll >= 9900) return mutate(bytes) // 1% (undecodable ones cost the sender points: the victim bans it after two)
  return bytes
}

const dir = await mkdtemp(join(tmpdir(), 'dds-fuzz-'))
const repo = join(dir, 'repo')
const daemon = spawn(process.execPath, [bin, 'daemon', '--repo', repo, '--listen', '/ip4/127.0.0.1/tcp/0', '--gateway', '127.0.0.1:0', '--json'], { stdio: ['ignore', 'pipe', 'inherit'] })
const counts = { sent: 0, answered: 0, undecodable: 0, resets: 0, identities: 0, statuses: {} }
try {
  const [line] = await once(daemon.stdout, 'data')
  const info = JSON.parse(line.toString().split('\n')[0])
  const target = multiaddr(`${info.addrs.find(a => a.includes('127.0.0.1'))}`)
  const file = join(dir, 'content.bin')
  const content = randomBytes(4 * 1024 * 1024)
  await writeFile(file, content)
  const cid = (await run(['publish', file, '--no-progress'], repo)).split(/\s+/).find(w => w.startsWith('zb2'))
  const chunks = await (await fetch(`${info.gateway}/api/v1/chunks/${cid}`)).json()
  const held = CID.parse(chunks.cids[0]).bytes

  let attacker
  const identity = async () => {
    await attacker?.stop().catch(() => {})
    attacker = await createLibp2p({ transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()], connectionManager: { allow: ['/ip4/127.0.0.1'] } })
    counts.identities++
  }
  await identity()

  /** One stream: up to IN_FLIGHT requests outstanding; resolves when it ends (reset, ban) or the frames are sent. */
  const stream = async () => {
    const s = await attacker.dialProtocol(target, PROTOCOL, { signal: AbortSignal.timeout(10_000) })
    const pending = new Uint8ArrayList()
    let outstanding = 0
    let wake
    let ended = false
    s.addEventListener('message', evt => {
      pending.append(evt.data)
      while (true) {
        let len
        try {
          len = readVarint(pending)
        } catch {
          counts.undecodable++
          return
        }
        if (len == null || pending.byteLength < len.prefix + len.value) break
        const body = pending.subarray(len.prefix, len.prefix + len.value)
        pending.consume(len.prefix + len.value)
        try {
          const response = pb.Response.decode(body)
          const status = response[response.body]?.status ?? 0
          counts.statuses[status] = (counts.statuses[status] ?? 0) + 1
        } catch {
          counts.undecodable++
        }
        counts.answered++
        outstanding--
      }
      wake?.()
    })
    s.addEventListener('close', () => { ended = true; wake?.() })
    let id = 0
    while (!ended && counts.sent < FRAMES) {
      while (!ended && outstanding < IN_FLIGHT && counts.sent < FRAMES) {
        const bytes = lp.encode.single(frame(++id, held)).subarray()
        outstanding++
        counts.sent++
        if (!s.send(bytes)) {
          await s.onDrain({ signal: AbortSignal.timeout(30_000) }).catch(() => { ended = true })
        }
        if (counts.sent % 100_000 === 0) report()
      }
      if (!ended) {
        await new Promise(resolve => { wake = resolve; setTimeout(resolve, 2000) })
        wake = undefined
      }
    }
    if (ended) counts.resets++
    else await s.close().catch(() => {})
  }

  let rssAt100k
  const started = Date.now()
  async function heapMiB () {
    try {
      const text = await (await fetch(`${info.gateway}/metrics`)).text()
      const metric = name => (Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1]) / 1048576).toFixed(0)
      return `${metric('nodejs_heap_size_used_bytes')} MiB; external ${metric('nodejs_external_memory_bytes')} MiB`
    } catch {
      return NaN
    }
  }
  function report () {
    const rss = rssMiB(daemon.pid)
    void heapMiB().then(heap => { console.log(`  victim JS heap used ${heap}`) })
    if (counts.sent === 100_000) rssAt100k = rss
    console.log(`${counts.sent} frames, ${counts.answered} answers (${counts.undecodable} undecodable), ${counts.resets} streams ended by the victim, ${counts.identities} identities, victim RSS ${rss.toFixed(0)} MiB, ${((Date.now() - started) / 1000).toFixed(0)} s`)
  }

  while (counts.sent < FRAMES) {
    const results = await Promise.allSettled(Array.from({ length: STREAMS }, stream))
    if (results.some(r => r.status === 'rejected') || attacker.getConnections().length === 0) {
      // banned (or the connection broke): a new identity goes on
      await identity()
    }
  }
  report()
  const rss = rssMiB(daemon.pid)
  const back = Buffer.from(await (await fetch(`${info.gateway}/dds/${cid}`)).arrayBuffer())
  console.log(`fuzz: ${counts.sent} frames from ${counts.identities} identities; ${counts.answered} answers, ${counts.undecodable} undecodable (target 0); statuses ${JSON.stringify(counts.statuses)}; ` +
    `victim RSS ${rssAt100k?.toFixed(0)} MiB after 100k, ${rss.toFixed(0)} MiB at the end (${rssAt100k != null ? ((rss / rssAt100k - 1) * 100).toFixed(1) : '?'}%, target within 20%); ` +
    `daemon alive: ${daemon.exitCode == null}; content served intact: ${back.equals(content)}`)
  await attacker.stop()
} finally {
  daemon.kill('SIGTERM')
  await once(daemon, 'exit').catch(() => {})
  await rm(dir, { recursive: true, force: true })
}

/** The varint length prefix at the start of `list`: undefined while it is cut off. */
function readVarint (list) {
  let value = 0
  let scale = 1
  for (let i = 0; i < list.byteLength; i++) {
    const byte = list.get(i)
    value += (byte & 0x7f) * scale
    if (byte < 0x80) return { value, prefix: i + 1 }
    scale *= 128
    if (i > 8) throw new Error('bad length prefix')
  }
  return undefined
}
