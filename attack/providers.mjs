#!/usr/bin/env node
/**
 * Fake providers: peers that announce a content's manifest and every chunk
 * on the DHT, accept DDS streams and never answer. One real holder, reached
 * only through the DHT (the retrievers know a hub that holds nothing); each
 * retriever is a fresh node with the default options. Prints the retrieval
 * times with no fake provider, with 5 and with 20, and every failure.
 *
 *   npm run build && node attack/providers.mjs [--size-mib 16] [--rounds 5]
 */
import { randomBytes } from 'node:crypto'
import { Dds, DDS_PROTOCOL, createDdsLibp2p, parseCid, chunkContent } from '../dist/index.js'

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : fallback
}
const SIZE = arg('size-mib', 16) * 1024 * 1024
const ROUNDS = arg('rounds', 5)
const nodes = []
const fakes = []

const median = xs => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

async function retrievals (hub, cid, content) {
  const times = []
  let failures = 0
  for (let i = 0; i < ROUNDS; i++) {
    const retriever = await Dds.create({ bootstrap: hub.getMultiaddrs() })
    const started = performance.now()
    try {
      const bytes = await retriever.retrieveBytes(cid)
      if (!Buffer.from(bytes).equals(content)) throw new Error('wrong bytes')
      times.push(performance.now() - started)
    } catch (err) {
      failures++
      console.log(`  failed: ${err.name}: ${err.message.slice(0, 160)}`)
    } finally {
      await retriever.stop()
    }
  }
  return { times, failures }
}

async function addFakes (count, hub, cids) {
  for (let i = 0; i < count; i++) {
    const node = await createDdsLibp2p()
    await node.handle(DDS_PROTOCOL, stream => { stream.addEventListener('message', () => {}) })
    await node.dial(hub.libp2p.getMultiaddrs())
    while (node.services.dht.routingTable.size === 0) await new Promise(resolve => setTimeout(resolve, 50))
    await Promise.all(cids.map(async cid => {
      try { for await (const _ of node.services.dht.provide(cid, { signal: AbortSignal.timeout(30_000) })) {} } catch {}
    }))
    fakes.push(node)
  }
}

try {
  const hub = await Dds.create()
  nodes.push(hub)
  const holder = await Dds.create({ bootstrap: hub.getMultiaddrs() })
  nodes.push(holder)
  const content = randomBytes(SIZE)
  const cid = await holder.publish(content)
  await holder.awaitAnnouncements()
  const cids = [parseCid(cid)]
  for await (const chunk of chunkContent(content)) cids.push(chunk.cid)
  const rows = []
  for (const count of [0, 5, 20]) {
    await addFakes(count - fakes.length, hub, cids)
    const { times, failures } = await retrievals(hub, cid, content)
    rows.push({ fakes: count, median: median(times), max: Math.max(...times), failures })
    console.log(`${count} fake providers: ${ROUNDS - failures}/${ROUNDS} retrievals of ${SIZE / 1048576} MiB succeeded; median ${(median(times) / 1000).toFixed(2)} s, slowest ${(Math.max(...times) / 1000).toFixed(2)} s`)
  }
  const base = rows[0].median
  for (const row of rows.slice(1)) {
    console.log(`providers: ${row.fakes} fakes: ${row.failures} failures (target 0), slowest ${((row.max - base) / 1000).toFixed(2)} s slower than the median with none (target <= 3 s)`)
  }
} finally {
  await Promise.all(fakes.map(f => f.stop().catch(() => {})))
  await Promise.all(nodes.map(n => n.stop().catch(() => {})))
}
