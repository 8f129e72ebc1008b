#!/usr/bin/env node
/**
 * Manifests pushed by StoreChunk: an attacker pushes only the manifest
 * blocks of three contents (a few KiB each) to a node that takes pushed
 * blocks (`storePolicy: 'any'`) but holds no replicas for others
 * (`replication.accept: 'none'`); a holder of the content is one connection
 * away. Before the fix the victim fetched and pinned every content. Prints
 * what the victim fetched and pinned; the target is nothing. The same push
 * to a node with `accept: 'any'` is the control: it must fetch, or the
 * attack did not reach the admission path at all.
 *
 *   npm run build && node attack/pushed.mjs [--size-mib 16] [--contents 3]
 */
import { randomBytes } from 'node:crypto'
import * as lp from 'it-length-prefixed'
import { Dds, DDS_PROTOCOL, memoryStorage, parseCid } from '../dist/index.js'
import { pb } from '../dist/pb/index.js'

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : fallback
}
const SIZE = arg('size-mib', 16) * 1024 * 1024
const CONTENTS = arg('contents', 3)
const nodes = []

/** Pushes the blocks to `victim` by StoreChunk from `from`; resolves with each answer's status. */
async function push (from, victim, blocks) {
  const stream = await from.libp2p.dialProtocol(victim.libp2p.getMultiaddrs(), DDS_PROTOCOL, { signal: AbortSignal.timeout(10_000) })
  const { FrameDecoder } = await import('../dist/network/frame-decoder.js')
  const decoder = new FrameDecoder(2 * 1024 * 1024, 64 * 1024 * 1024)
  const statuses = []
  const done = new Promise((resolve) => {
    stream.addEventListener('message', (evt) => {
      for (const f of decoder.decode(evt.data)) {
        statuses.push(pb.Status[pb.Response.decode(f.subarray()).storeChunk?.status] ?? 'no status')
        if (statuses.length === blocks.length) resolve()
      }
    })
  })
  blocks.forEach(({ cid, bytes }, i) => { stream.send(lp.encode.single(pb.Request.encode({ id: i + 1, storeChunk: { cid: cid.bytes, data: bytes } }).finish()).subarray()) })
  await done
  await stream.close().catch(() => {})
  return statuses
}

/** What `victim` fetched and pinned within `ms` of a push of every manifest. */
async function attack (accept, holder, attacker, manifests) {
  const victim = await Dds.create({ bootstrap: holder.getMultiaddrs(), network: { storePolicy: 'any' }, replication: { accept } })
  nodes.push(victim)
  const before = victim.stats().bytesFetched
  const statuses = await push(attacker, victim, manifests)
  const wanted = CONTENTS * SIZE
  // the control fetches everything; the refusing node is given as long as the control took, and at least 5 s
  const started = Date.now()
  while (Date.now() - started < 60_000) {
    const pins = await victim.replicas()
    if (accept === 'any' ? victim.stats().bytesFetched - before >= wanted && pins.every(p => p.state === 'complete') : Date.now() - started >= 5_000) break
    await new Promise(resolve => setTimeout(resolve, 200))
  }
  const fetched = victim.stats().bytesFetched - before
  const pins = await victim.replicas()
  return { statuses, fetched, pins: pins.length, seconds: (Date.now() - started) / 1000 }
}

try {
  const storage = memoryStorage()
  const holder = await Dds.create({ storage })
  const attacker = await Dds.create()
  nodes.push(holder, attacker)
  const manifests = []
  for (let i = 0; i < CONTENTS; i++) {
    const cid = await holder.publish(randomBytes(SIZE))
    const bytes = await storage.get(parseCid(cid))
    manifests.push({ cid: parseCid(cid), bytes })
  }
  const pushed = manifests.reduce((n, m) => n + m.bytes.byteLength, 0)
  const control = await attack('any', holder, attacker, manifests)
  console.log(`pushed to accept 'any' (control): ${pushed} bytes of ${CONTENTS} manifests answered ${control.statuses.join(',')}; fetched ${(control.fetched / 1048576).toFixed(1)} MiB, ${control.pins} replicas pinned in ${control.seconds.toFixed(1)} s`)
  const refusing = await attack('none', holder, attacker, manifests)
  const met = refusing.fetched === 0 && refusing.pins === 0 && control.fetched > 0
  console.log(`pushed: accept 'none': ${pushed} bytes of ${CONTENTS} manifests answered ${refusing.statuses.join(',')}; fetched ${refusing.fetched} bytes, ${refusing.pins} replicas pinned in ${refusing.seconds.toFixed(1)} s (target: nothing fetched, the control fetched): ${met ? 'met' : 'MISSED'}`)
  process.exitCode = met ? 0 : 1
} finally {
  await Promise.all(nodes.map(n => n.stop().catch(() => {})))
}
