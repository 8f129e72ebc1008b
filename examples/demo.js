// The DDS demo: three nodes, three OS processes, one file across the network.
//
// Run it with:  npm run demo            (builds the package first)
// Options:      DDS_DEMO_MIB=64 npm run demo   size of the generated file in MiB (default 48)
//
// Node 1 publishes a generated file. Node 2 is a hub both others bootstrap
// through. Node 3 has never been connected to node 1: it finds the content's
// holder on the DHT, fetches and verifies every chunk, and the demo checks the
// received bytes against the file's SHA-256. All processes are stopped at the
// end and the demo exits 0 on success, 1 on any failure.
import { fork } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, rm, open } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const MiB = 1024 * 1024
const sizeMiB = Number(process.env.DDS_DEMO_MIB ?? 48)
const worker = join(dirname(fileURLToPath(import.meta.url)), 'lib', 'node-process.js')
const children = []

function startNode (name, options) {
  const child = fork(worker, [JSON.stringify(options)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  children.push(child)
  const pending = new Map()
  let nextId = 1
  child.on('message', (msg) => {
    const entry = pending.get(msg.id)
    if (entry != null) {
      pending.delete(msg.id)
      msg.ok ? entry.resolve(msg) : entry.reject(Object.assign(new Error(msg.error.message), { name: msg.error.name }))
    }
  })
  child.on('exit', (code) => {
    for (const entry of pending.values()) entry.reject(new Error(`${name} exited with code ${code}`))
    pending.clear()
  })
  const call = (op, args = {}) => new Promise((resolve, reject) => {
    const id = nextId++
    pending.set(id, { resolve, reject })
    child.send({ id, op, ...args })
  })
  return new Promise((resolve, reject) => {
    child.once('message', (msg) => msg.ready ? resolve({ name, ...msg, call, child }) : reject(new Error(`${name} did not start`)))
    child.once('exit', (code) => reject(new Error(`${name} exited with code ${code} before it started`)))
  })
}

async function makeFile (path, bytes) {
  const hash = createHash('sha256')
  const file = await open(path, 'w')
  try {
    for (let written = 0; written < bytes;) {
      const piece = randomBytes(Math.min(4 * MiB, bytes - written))
      hash.update(piece)
      await file.write(piece)
      written += piece.byteLength
    }
  } finally {
    await file.close()
  }
  return hash.digest('hex')
}

const rate = (bytes, ms) => `${(bytes / MiB / (ms / 1000)).toFixed(1)} MiB/s`

async function main () {
  const dir = await mkdtemp(join(tmpdir(), 'dds-demo-'))
  try {
    const path = join(dir, 'content.bin')
    const bytes = sizeMiB * MiB
    const sha256 = await makeFile(path, bytes)
    console.log(`generated ${sizeMiB} MiB of random content, sha256 ${sha256}`)

    const hub = await startNode('node 2 (hub)', { storage: join(dir, 'node2') })
    const [publisher, retriever] = await Promise.all([
      startNode('node 1 (publisher)', { storage: join(dir, 'node1'), bootstrap: hub.multiaddrs }),
      startNode('node 3 (retriever)', { storage: join(dir, 'node3'), bootstrap: hub.multiaddrs })
    ])
    for (const n of [publisher, hub, retriever]) {
      console.log(`${n.name}: pid ${n.child.pid}, peer ${n.peerId}`)
    }

    const published = await publisher.call('publish', { path })
    console.log(`published ${sizeMiB} MiB on node 1 in ${published.ms.toFixed(0)} ms (${rate(bytes, published.ms)}), manifest CID ${published.cid}`)

    const got = await retriever.call('retrieve', { cid: published.cid })
    console.log(`retrieved ${got.bytes} bytes on node 3 in ${got.ms.toFixed(0)} ms (${rate(got.bytes, got.ms)}), first byte after ${got.firstByteMs.toFixed(0)} ms, peak RSS ${(got.peakRssBytes / MiB).toFixed(0)} MiB`)

    if (got.bytes !== bytes || got.sha256 !== sha256) {
      throw new Error(`content mismatch: got ${got.bytes} bytes with sha256 ${got.sha256}`)
    }
    console.log('bytes verified: node 3 holds exactly what node 1 published')
    await Promise.all([publisher, hub, retriever].map(n => n.call('stop').catch(() => {})))
  } finally {
    for (const child of children) {
      if (child.exitCode == null) child.kill('SIGKILL')
    }
    await rm(dir, { recursive: true, force: true })
  }
}

main().then(() => {
  console.log('demo finished')
  process.exit(0)
}, (err) => {
  console.error(`demo failed: ${err.name}: ${err.message}`)
  for (const child of children) child.kill('SIGKILL')
  process.exit(1)
})
