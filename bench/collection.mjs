#!/usr/bin/env node
/**
 * Collections against one file of the same total size: peak RSS of
 * publishing, of retrieving every byte on another node, and of serving
 * every byte through the gateway, each in fresh processes with default
 * options (LevelDB stores in temp directories). The target: a collection of
 * 1,000 files of 4 KiB to 40 MiB takes the same flat memory as one file.
 *
 *   npm run build && node bench/collection.mjs [--files 1000] [--max-mib 40] [--min-kib 4] [--hub]
 *
 * With --hub, the holder joins a network first (one more node, defaults)
 * and publishes there, its announcements made before the reader arrives, as
 * on a network that is up; without it the holder publishes alone and
 * announces through the reader when it connects.
 *
 * File sizes are spread log-uniformly between --min-kib and --max-mib (a
 * fixed seed: every run makes the same files). Each measurement is its own
 * process pair: a holder (publishes, then serves) and a reader (retrieves
 * from it over libp2p, or fetches from its gateway over HTTP).
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const here = dirname(fileURLToPath(import.meta.url))
const { values } = parseArgs({ options: { files: { type: 'string', default: '1000' }, 'max-mib': { type: 'string', default: '40' }, 'min-kib': { type: 'string', default: '4' }, role: { type: 'string' }, kind: { type: 'string' }, dir: { type: 'string' }, peer: { type: 'string' }, cid: { type: 'string' }, gateway: { type: 'string' }, sizes: { type: 'string' }, hub: { type: 'boolean', default: false }, bootstrap: { type: 'string' } } })

/** File sizes, log-uniform between min and max (xorshift, seed 7). */
function sizes (files, minBytes, maxBytes) {
  let x = 7
  const out = []
  for (let i = 0; i < files; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0
    out.push(Math.round(Math.exp(Math.log(minBytes) + (x / 2 ** 32) * (Math.log(maxBytes) - Math.log(minBytes)))))
  }
  return out
}

/** `size` deterministic bytes, in 1 MiB pieces, never held whole. */
async function * bytes (size, seed) {
  let x = (seed * 2654435761) >>> 0 || 1
  for (let left = size; left > 0;) {
    const piece = new Uint8Array(Math.min(left, 1 << 20))
    for (let i = 0; i < piece.length; i += 4) {
      x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0
      piece[i] = x & 255; piece[i + 1] = (x >>> 8) & 255; piece[i + 2] = (x >>> 16) & 255; piece[i + 3] = x >>> 24
    }
    left -= piece.length
    yield piece
  }
}

const peakMiB = () => process.resourceUsage().maxRSS / 1024

if (values.role === 'holder') {
  // publishes, reports its peak, then serves (libp2p and a gateway) until killed
  const { Dds } = await import('../dist/index.js')
  const { startGateway } = await import('../dist/gateway/index.js')
  const list = values.sizes.split(',').map(Number)
  const node = await Dds.create({ storage: values.dir, ...(values.bootstrap != null ? { bootstrap: [values.bootstrap] } : {}) })
  const started = performance.now()
  const cid = values.kind === 'collection'
    ? await node.publish((async function * () { for (const [i, size] of list.entries()) yield { path: `f/${String(i).padStart(4, '0')}.bin`, content: bytes(size, i + 1) } })(), { name: 'bench' })
    : await node.publish(bytes(list.reduce((a, b) => a + b, 0), 1), { name: 'bench.bin' })
  const ms = performance.now() - started
  if (values.bootstrap != null) {
    await node.awaitAnnouncements()
  }
  const gateway = await startGateway(node, { port: 0 })
  process.send({ cid, peer: node.getMultiaddrs()[0], gateway: gateway.url, publishPeakMiB: peakMiB(), publishMs: ms })
  process.on('message', (msg) => { if (msg === 'peak') process.send({ servePeakMiB: peakMiB() }) })
} else if (values.role === 'hub') {
  const { Dds } = await import('../dist/index.js')
  const node = await Dds.create({ storage: 'memory' })
  process.send({ peer: node.getMultiaddrs()[0].toString() })
} else if (values.role === 'reader') {
  const { Dds } = await import('../dist/index.js')
  const node = await Dds.create({ storage: 'memory', bootstrap: [values.peer] })
  const started = performance.now()
  let total = 0
  const paths = values.kind === 'collection' ? (await node.list(values.cid)).map(e => e.path) : [undefined]
  for (const path of paths) {
    for await (const piece of node.retrieve(values.cid, path != null ? { path } : {})) total += piece.byteLength
  }
  process.send({ bytes: total, retrievePeakMiB: peakMiB(), retrieveMs: performance.now() - started })
  await node.stop()
  process.exit(0)
} else {
  const list = sizes(Number(values.files), Number(values['min-kib']) * 1024, Number(values['max-mib']) * 1024 * 1024)
  const total = list.reduce((a, b) => a + b, 0)
  console.log(`${list.length} files, ${(total / 2 ** 20).toFixed(0)} MiB in all (${(Math.min(...list) / 1024).toFixed(0)} KiB to ${(Math.max(...list) / 2 ** 20).toFixed(1)} MiB), default options${values.hub ? ', the holder publishing on a network (--hub)' : ''}`)
  const rows = []
  for (const kind of ['file', 'collection']) {
    const dir = await mkdtemp(join(tmpdir(), 'dds-bench-collection-'))
    const hub = values.hub ? spawn(process.execPath, [fileURLToPath(import.meta.url), '--role', 'hub'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }) : undefined
    const joined = hub != null ? ['--bootstrap', (await once(hub, 'message'))[0].peer] : []
    const holder = spawn(process.execPath, [fileURLToPath(import.meta.url), '--role', 'holder', '--kind', kind, '--dir', join(dir, 'store'), '--sizes', list.join(','), ...joined], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    try {
      const [published] = await once(holder, 'message')
      const reader = spawn(process.execPath, [fileURLToPath(import.meta.url), '--role', 'reader', '--kind', kind, '--peer', published.peer, '--cid', published.cid], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
      const [retrieved] = await once(reader, 'message')
      if (retrieved.bytes !== total) throw new Error(`${kind}: retrieved ${retrieved.bytes} of ${total} bytes`)
      // every byte through the holder's gateway
      const started = performance.now()
      let served = 0
      const paths = kind === 'collection' ? list.map((_, i) => `/f/${String(i).padStart(4, '0')}.bin`) : ['']
      for (const path of paths) {
        const response = await fetch(`${published.gateway}/dds/${published.cid}${path}`)
        for await (const piece of response.body) served += piece.byteLength
      }
      if (served !== total) throw new Error(`${kind}: the gateway served ${served} of ${total} bytes`)
      const serveMs = performance.now() - started
      holder.send('peak')
      const [peak] = await once(holder, 'message')
      rows.push({ kind, ...published, ...retrieved, serveMs, servePeakMiB: peak.servePeakMiB })
    } finally {
      holder.kill('SIGKILL')
      hub?.kill('SIGKILL')
      await rm(dir, { recursive: true, force: true })
    }
  }
  const f = (n) => n.toFixed(0).padStart(6)
  console.log('kind        publish peak MiB  (s)   retrieve peak MiB  (s)   publish+serve peak MiB  gateway (s)')
  for (const r of rows) {
    console.log(`${r.kind.padEnd(10)}  ${f(r.publishPeakMiB)}          ${(r.publishMs / 1000).toFixed(1).padStart(5)}  ${f(r.retrievePeakMiB)}           ${(r.retrieveMs / 1000).toFixed(1).padStart(5)}  ${f(r.servePeakMiB)}                  ${(r.serveMs / 1000).toFixed(1).padStart(5)}`)
  }
  const [file, collection] = rows
  console.log(`collection / file peak RSS: publish ${(collection.publishPeakMiB / file.publishPeakMiB).toFixed(2)}, retrieve ${(collection.retrievePeakMiB / file.retrievePeakMiB).toFixed(2)}, publish+serve ${(collection.servePeakMiB / file.servePeakMiB).toFixed(2)}`)
  console.log(JSON.stringify({ files: list.length, totalBytes: total, rows }))
}
