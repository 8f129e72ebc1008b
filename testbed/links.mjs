#!/usr/bin/env node
/**
 * One path, measured side by side: what a raw TCP stream and a DDS
 * retrieval (default options) get from one seeder over a shaped link, and
 * the round trip the delayer gives. Two public hosts of the testbed: the
 * seeder's link has the rate, the delay and the loss; the retriever's link
 * the same delay (so a round trip is 4 x the delay).
 *
 *   npm run build && node testbed/links.mjs [--rate 100mbit] [--delay 10] [--loss 1] [--mib 64] [--runs 2]
 */
import { once } from 'node:events'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { createTestbed, testbedAvailable, waitForLine } from './index.mjs'

const { values } = parseArgs({ options: { rate: { type: 'string', default: '100mbit' }, delay: { type: 'string', default: '10' }, loss: { type: 'string', default: '1' }, mib: { type: 'string', default: '64' }, runs: { type: 'string', default: '2' }, role: { type: 'string' }, target: { type: 'string' } } })
const bytes = Number(values.mib) * 1024 * 1024
const here = fileURLToPath(import.meta.url)

if (values.role === 'tcp-server') {
  const net = await import('node:net')
  const piece = Buffer.alloc(1 << 20, 7)
  const server = net.createServer(async socket => {
    for (let sent = 0; sent < bytes; sent += piece.length) {
      if (!socket.write(piece)) await once(socket, 'drain')
    }
    socket.end()
  })
  server.listen(5001, '0.0.0.0', () => { console.log('listening') })
} else if (values.role === 'tcp-client') {
  const net = await import('node:net')
  const started = performance.now()
  const socket = net.connect(5001, values.target)
  let got = 0
  for await (const piece of socket) got += piece.length
  console.log(JSON.stringify({ bytes: got, ms: performance.now() - started }))
} else if (values.role === 'seeder') {
  const { Dds } = await import('../dist/index.js')
  const node = await Dds.create({ storage: 'memory', listen: ['/ip4/0.0.0.0/tcp/4001'] })
  const content = new Uint8Array(bytes)
  for (let i = 0; i < content.length; i += 4096) content[i] = (i >>> 12) & 255
  const cid = await node.publish(content)
  console.log(`ready ${cid} ${node.peerId}`)
} else if (values.role === 'retriever') {
  const { Dds } = await import('../dist/index.js')
  const [addr, cid] = values.target.split(' ')
  const node = await Dds.create({ storage: 'memory', bootstrap: [addr] })
  const started = performance.now()
  let got = 0
  let first
  for await (const piece of node.retrieve(cid)) { first ??= performance.now() - started; got += piece.byteLength }
  const ms = performance.now() - started
  console.log(JSON.stringify({ bytes: got, ms, firstMs: first, afterFirstMiBs: (got / 2 ** 20) / ((ms - first) / 1000) }))
  await node.stop()
  process.exit(0)
} else {
  const available = await testbedAvailable()
  if (!available.ok) { console.error(`the testbed cannot run here: ${available.reason}`); process.exit(2) }
  const delayMs = Number(values.delay)
  const link = { rate: values.rate, delayMs, loss: Number(values.loss) / 100 }
  const tb = await createTestbed()
  try {
    const seeder = await tb.addPublicHost('seeder', link)
    const reader = await tb.addPublicHost('reader', { delayMs })
    const ping = await reader.ping(seeder, { count: 20, intervalMs: 100 })
    console.log(`path: seeder link ${values.rate}, ${delayMs} ms each way, ${values.loss} % loss each way; reader link ${delayMs} ms; ping ${ping.rttMs?.avg.toFixed(1)} ms (expected ${4 * delayMs}), ${(100 * ping.loss).toFixed(0)} % lost`)
    const linkMiBs = Number.parseFloat(values.rate) * (values.rate.endsWith('gbit') ? 1000 : values.rate.endsWith('kbit') ? 0.001 : 1) * 1e6 / 8 / 2 ** 20
    for (let run = 1; run <= Number(values.runs); run++) {
      const server = seeder.spawnNode(here, ['--role', 'tcp-server', '--mib', values.mib], { stdio: ['ignore', 'pipe', 'inherit'] })
      await waitForLine(server, /^listening/)
      const tcp = JSON.parse((await reader.execNode(here, ['--role', 'tcp-client', '--mib', values.mib, '--target', seeder.address], { timeoutMs: 600_000 })).stdout)
      server.kill()
      const dds = seeder.spawnNode(here, ['--role', 'seeder', '--mib', values.mib], { stdio: ['ignore', 'pipe', 'inherit'] })
      const line = await waitForLine(dds, /^ready /, { timeoutMs: 120_000 })
      const [, cid, peer] = String(line).trim().split(' ')
      const got = JSON.parse((await reader.execNode(here, ['--role', 'retriever', '--target', `/ip4/${seeder.address}/tcp/4001/p2p/${peer} ${cid}`], { timeoutMs: 600_000 })).stdout.trim().split('\n').pop())
      dds.kill()
      const rate = (r) => (r.bytes / 2 ** 20) / (r.ms / 1000)
      console.log(`run ${run}: raw TCP ${rate(tcp).toFixed(2)} MiB/s (${(rate(tcp) / linkMiBs).toFixed(2)} of the link) | DDS ${rate(got).toFixed(2)} MiB/s (${(rate(got) / linkMiBs).toFixed(2)} of the link, ${(rate(got) / rate(tcp)).toFixed(2)} of raw TCP), first byte ${got.firstMs.toFixed(0)} ms, ${got.afterFirstMiBs.toFixed(2)} MiB/s after it`)
    }
  } finally {
    await tb.teardown()
  }
}
