#!/usr/bin/env node
// `npm run testbed`: builds a small topology, checks it works and reports
// what it measured, then removes it. Needs root (see doc/TESTBED.md).
//
//   server   a public host
//   home     a port-preserving NAT, uplink 20mbit / 10 ms; alice behind it
//   mobile   a symmetric NAT, uplink 10mbit / 30 ms / 1 % loss; bob behind it
//
// With --nodes N it runs a network of N DDS nodes instead (scale.mjs and
// lib/scale-args.mjs, which lists the flags).
//
// Options:
//   --hold   keep the topology up until Ctrl-C, to look around with
//            `ip netns exec <ns> ...` (namespace names are printed)
//
// Exits 0 when every check passed, 1 when one failed, 2 when the testbed
// cannot run here (the reason is printed).
import { createTestbed, testbedAvailable, listNamespaces, waitForLine, burstBytes, parseRate, PROBE } from './index.mjs'

import { parseScaleArgs } from './lib/scale-args.mjs'

let scale
try {
  scale = parseScaleArgs(process.argv.slice(2))
} catch (err) {
  console.error(`testbed: ${err.message}`)
  process.exit(2)
}
if (scale != null) {
  // a network of many nodes: testbed/scale.mjs
  const { main } = await import('./scale.mjs')
  process.exitCode = await main(scale)
} else {
  await checks()
}

async function checks () {
  const hold = process.argv.includes('--hold')
  const HOME_LINK = { rate: '20mbit', delayMs: 10 }
  const MOBILE_LINK = { rate: '10mbit', delayMs: 30, loss: 0.01 }
  const TRANSFER_BYTES = 2 * 1024 * 1024

  const checks = []
  function check (ok, what) {
    checks.push({ ok, what })
    console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${what}`)
  }

  function table (rows, columns) {
    const widths = columns.map(c => Math.max(c.length, ...rows.map(r => String(r[c] ?? '').length)))
    const line = (cells) => cells.map((cell, i) => String(cell ?? '').padEnd(widths[i])).join('  ').trimEnd()
    console.log(line(columns))
    for (const row of rows) {
      console.log(line(columns.map(c => row[c])))
    }
  }

  function linkText (link) {
    if (link == null) return ''
    const parts = []
    if (link.rate) parts.push(link.rate)
    if (link.delayMs) parts.push(`${link.delayMs} ms`)
    if (link.loss) parts.push(`${link.loss * 100} % loss`)
    return parts.join(', ') || 'unshaped'
  }

  async function probe (node, args) {
    const { stdout } = await node.execNode(PROBE, args)
    return JSON.parse(stdout.trim().split('\n').at(-1))
  }

  async function serve (node, kind, port) {
    const child = node.spawnNode(PROBE, [kind, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] })
    await waitForLine(child, /^listening /)
    return child
  }

  const available = await testbedAvailable()
  if (!available.ok) {
    console.error(`testbed: cannot run here: ${available.reason}`)
    process.exit(2)
  }
  console.log(`testbed: ${available.iptables}, delayer on ${available.python}`)

  // Ctrl-C while holding ends the hold; otherwise it exits, which runs the
  // testbed's synchronous teardown
  let endHold
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => { if (endHold != null) endHold(); else process.exit(130) })
  }

  const started = Date.now()
  const tb = await createTestbed()
  try {
    const server = await tb.addPublicHost('server')
    const [home, mobile] = await Promise.all([
      tb.addNat('home', { kind: 'port-preserving' }, HOME_LINK),
      tb.addNat('mobile', { kind: 'symmetric' }, MOBILE_LINK)
    ])
    const [alice, bob] = await Promise.all([tb.addHostBehind(home, 'alice'), tb.addHostBehind(mobile, 'bob')])
    console.log(`\nbuilt in ${Date.now() - started} ms (namespaces ${tb.prefix}*)\n`)
    table(tb.describe().map(row => ({ ...row, link: linkText(row.link), lan: row.lan ?? (row.behind ? `behind ${row.behind}` : '') })),
      ['name', 'role', 'ns', 'address', 'publicAddress', 'lan', 'link'])

    console.log('\nround trips (10 pings each; expected = 2 x the delays on the path)')
    const rows = []
    for (const [from, to, delays] of [[alice, server, [HOME_LINK]], [bob, server, [MOBILE_LINK]], [alice, home.lanAddress, []], [server, home, [HOME_LINK]]]) {
      const ping = await from.ping(to, { count: 10, intervalMs: 100 })
      const expected = 2 * delays.reduce((sum, link) => sum + (link.delayMs ?? 0), 0)
      rows.push({
        from: from.name,
        to: typeof to === 'string' ? to : `${to.name} ${to.address}`,
        received: `${ping.received}/${ping.sent}`,
        'expected ms': expected,
        'min/avg/max ms': ping.rttMs == null ? 'none' : `${ping.rttMs.min}/${ping.rttMs.avg}/${ping.rttMs.max}`,
        ok: ping.rttMs != null && ping.rttMs.min >= expected
      })
    }
    table(rows, ['from', 'to', 'received', 'expected ms', 'min/avg/max ms'])
    for (const row of rows) {
      check(row.ok, `${row.from} -> ${row.to}: replies came, RTT at least ${row['expected ms']} ms`)
    }

    console.log('\nNAT mappings (one UDP socket, inside port 40000, asks two echo servers what they see)')
    await Promise.all([serve(server, 'udp-echo', 7000), serve(server, 'udp-echo', 7001)])
    for (const host of [alice, bob]) {
      const r = await probe(host, ['udp-ask', '40000', `${server.address}:7000`, `${server.address}:7001`])
      const seen = Object.values(r.seen)
      console.log(`  ${host.name} ${host.address}:40000 (${host.nat.kind}) seen as ${seen.join(' and ')}`)
      const ports = new Set(seen.map(s => s?.split(':')[1]))
      if (host.nat.kind === 'port-preserving') {
        check(seen.every(s => s === `${home.address}:40000`), 'port-preserving NAT kept the port for both destinations')
      } else {
        check(seen.every(s => s?.startsWith(`${mobile.address}:`)) && ports.size === 2, 'symmetric NAT used a new port per destination')
      }
    }

    console.log('\ninbound through a NAT')
    await serve(alice, 'tcp-echo', 8080)
    const before = await probe(server, ['tcp-ask', `${home.address}:8080`, '--timeout', '1500'])
    check(before.seen == null, `server -> home ${home.address}:8080 without a port forward: ${before.seen ?? 'no answer'}`)
    await tb.portForward(home, { proto: 'tcp', outsidePort: 8080, host: alice })
    const after = await probe(server, ['tcp-ask', `${home.address}:8080`])
    check(after.seen === `${server.address}:${after.seen?.split(':')[1]}`, `with tcp 8080 forwarded to alice, alice answered and saw ${after.seen}`)

    console.log(`\ntransfer: alice -> server, ${TRANSFER_BYTES / 1024 / 1024} MiB over home's ${HOME_LINK.rate} uplink`)
    const sink = await serve(server, 'sink', 9000)
    const coreBefore = await tb.bytesThrough('internet')
    await probe(alice, ['send', `${server.address}:9000`, String(TRANSFER_BYTES)])
    const got = JSON.parse(await waitForLine(sink, /^\{/))
    const mbit = TRANSFER_BYTES * 8 / got.ms / 1000
    const bits = parseRate(HOME_LINK.rate)
    // the token bucket may pass its burst at once, and the clock starts at the first segment
    const minMs = (TRANSFER_BYTES - burstBytes(bits) - 64 * 1024) * 8 / bits * 1000
    check(got.bytes === TRANSFER_BYTES && got.ms >= minMs,
      `${got.bytes} bytes in ${got.ms.toFixed(0)} ms = ${mbit.toFixed(2)} Mbit/s of payload (no less than ${minMs.toFixed(0)} ms allowed)`)
    const coreAfter = await tb.bytesThrough('internet')
    const delta = (name, dir) => coreAfter.interfaces[name][dir] - coreBefore.interfaces[name][dir]
    console.log(`  bytes through the core: from home (v-home rx) ${delta('v-home', 'rx')}, to server (v-server tx) ${delta('v-server', 'tx')}`)

    if (hold) {
      console.log('\nholding the topology; look around with e.g.')
      console.log(`  ip netns exec ${alice.ns} ping ${server.address}`)
      console.log(`  ip netns exec ${home.ns} iptables -t nat -L -n -v`)
      console.log('Ctrl-C to remove it')
      await new Promise(resolve => { endHold = resolve })
    }
  } catch (err) {
    check(false, `the demo stopped: ${err.stack ?? err}`)
  } finally {
    await tb.teardown()
  }
  const left = (await listNamespaces()).filter(ns => ns.startsWith(tb.prefix))
  check(left.length === 0, `teardown removed every namespace${left.length ? ` (left: ${left.join(', ')})` : ''}`)
  const failed = checks.filter(c => !c.ok)
  console.log(`\n${failed.length === 0 ? 'all' : `${checks.length - failed.length} of`} ${checks.length} checks passed`)
  process.exitCode = failed.length === 0 ? 0 : 1
}
