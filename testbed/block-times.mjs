#!/usr/bin/env node
// How long one block takes over a testbed path, on raw TCP: two public
// hosts, each behind a link with the given one-way delay and loss; a client
// asks for a block of --bytes on one connection --count times, --idle ms
// apart (an idle connection restarts TCP's slow start), and the times are
// printed as quantiles. The floor under DDS's time to first byte (a manifest
// round trip, then one 256 KiB chunk) on the same links.
//
//   node testbed/block-times.mjs [--delay MS] [--loss PCT] [--bytes N] [--count N] [--idle MS]
import { createTestbed, waitForLine, PROBE } from './index.mjs'
import { quantile } from './lib/scale.mjs'

const o = { delay: 10, loss: 1, bytes: 262144, count: 100, idle: 2000 }
const argv = process.argv.slice(2)
for (let i = 0; i < argv.length; i += 2) {
  const key = argv[i]?.replace(/^--/, '')
  if (!(key in o) || !Number.isFinite(Number(argv[i + 1]))) {
    console.error('usage: node testbed/block-times.mjs [--delay MS] [--loss PCT] [--bytes N] [--count N] [--idle MS]')
    process.exit(2)
  }
  o[key] = Number(argv[i + 1])
}

const tb = await createTestbed()
const stop = () => { tb.teardownSync(); process.exit(130) }
process.on('SIGINT', stop)
try {
  const link = { delayMs: o.delay, loss: o.loss / 100 }
  const server = await tb.addPublicHost('server', link)
  const client = await tb.addPublicHost('client', link)
  const answer = server.spawnNode(PROBE, ['answer', '4100', String(o.bytes)], { stdio: ['ignore', 'pipe', 'inherit'] })
  await waitForLine(answer, /^listening/)
  const got = await client.execNode(PROBE, ['ask', `${server.address}:4100`, String(o.bytes), String(o.count), String(o.idle)], { timeoutMs: o.count * (o.idle + 30_000) })
  const { connectMs, ms } = JSON.parse(got.stdout.trim().split('\n').at(-1))
  console.log(JSON.stringify({ ...o, connectMs, median: quantile(ms, 0.5), p90: quantile(ms, 0.9), p95: quantile(ms, 0.95), max: Math.max(...ms), ms }))
  answer.kill()
} finally {
  await tb.teardown()
}
