/**
 * The testbed's link shaping on real namespaces: delay (the NFQUEUE
 * delayer) shows in ping's RTT and keeps packets in order, loss drops some
 * packets and lets others through, a rate makes a transfer take at least as
 * long as the rate implies, in both directions. Machines are noisy, so
 * timing is asserted as lower bounds (upper bounds only where generous) and
 * the measured figures are printed.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { createTestbed, burstBytes, parseRate, waitForLine } from '../../testbed/index.mjs'
import type { Host, Nat, Testbed } from '../../testbed/index.mjs'
import { available, probe, serve, title } from './helpers.js'

const DELAY_MS = 20
const LOSS = 0.3
const RATE = '8mbit'

describe.skipIf(!available.ok)(title('testbed links'), { timeout: 60_000 }, () => {
  let tb: Testbed
  let p1: Host, p2: Host, lossy: Host, slow: Host, plain: Host, behind: Host, up1: Host, up2: Host
  let nat: Nat

  beforeAll(async () => {
    tb = await createTestbed()
    ;[p1, p2, lossy, slow, plain, nat, up1, up2] = await Promise.all([
      tb.addPublicHost('p1', { delayMs: DELAY_MS }),
      tb.addPublicHost('p2', { delayMs: DELAY_MS }),
      tb.addPublicHost('lossy', { loss: LOSS }),
      tb.addPublicHost('slow', { rate: RATE }),
      tb.addPublicHost('plain'),
      tb.addNat('home', { kind: 'port-preserving' }, { delayMs: DELAY_MS }),
      tb.addPublicHost('up1', { delayMs: DELAY_MS, delayOn: 'up' }),
      tb.addPublicHost('up2', { delayMs: DELAY_MS, delayOn: 'up' })
    ])
    behind = await tb.addHostBehind(nat, 'behind')
  })

  afterAll(async () => {
    await tb?.teardown()
  })

  it('adds the configured delay to each direction of each link: ping RTT is at least the sum', async () => {
    // two links of 20 ms, each crossed twice per round trip
    const total = 4 * DELAY_MS
    const direct = await p1.ping(p2, { count: 20, intervalMs: 100 })
    const viaNat = await behind.ping(p1, { count: 20, intervalMs: 100 })
    const undelayed = await plain.ping(lossy, { count: 20, intervalMs: 100 })
    console.log(`delay ${DELAY_MS} ms on each of two links (${total} ms per round trip): p1 -> p2 rtt min/avg/max ${fmt(direct.rttMs)} ms; ` +
      `behind NAT -> p1 ${fmt(viaNat.rttMs)} ms; without delay ${fmt(undelayed.rttMs)} ms`)
    for (const ping of [direct, viaNat]) {
      expect(ping.received).toBe(20)
      expect(ping.rttMs!.min).toBeGreaterThanOrEqual(total)
      // generous: a loaded machine stretches some round trips, never the quickest by this much
      expect(ping.rttMs!.min).toBeLessThan(total + 200)
    }
    expect(undelayed.rttMs!.min).toBeLessThan(total)
  })

  it('holds a link\'s whole round trip on the way up with delayOn: up, and the same between two such hosts', async () => {
    const total = 4 * DELAY_MS
    const between = await up1.ping(up2, { count: 20, intervalMs: 100 })
    // a host whose delay is held both ways: up1's way up holds 2 x DELAY_MS, p1's holds DELAY_MS each way
    const mixed = await up1.ping(p1, { count: 20, intervalMs: 100 })
    console.log(`delayOn up, ${DELAY_MS} ms a link: up1 -> up2 rtt ${fmt(between.rttMs)} ms; up1 -> p1 ${fmt(mixed.rttMs)} ms`)
    for (const ping of [between, mixed]) {
      expect(ping.received).toBe(20)
      expect(ping.rttMs!.min).toBeGreaterThanOrEqual(total)
      expect(ping.rttMs!.min).toBeLessThan(total + 200)
    }
    // each packet is queued once: on its way up, none on its way down
    const chain = async (table: string, name: string): Promise<string> => (await tb.internet.exec(available.iptables!, ['-t', table, '-S', name])).stdout
    expect(await chain('raw', 'up-up1')).toContain('NFQUEUE')
    expect(await chain('mangle', 'dn-up1')).not.toContain('NFQUEUE')
    expect(await chain('mangle', 'dn-p1')).toContain('NFQUEUE')
    await serve(up2, 'udp-echo', 7001)
    const r = await probe(up1, ['udp-burst', `${up2.address}:7001`, '300'])
    expect(r.received).toBeGreaterThan(0)
    expect(r.reordered).toBe(0)
  })

  it('keeps packets in order through delayed links', async () => {
    await serve(p2, 'udp-echo', 7000)
    const r = await probe(p1, ['udp-burst', `${p2.address}:7000`, '300'])
    console.log(`300 datagrams back to back over two delayed links: ${r.received} came back, ${r.reordered} out of order`)
    expect(r.received).toBeGreaterThan(0)
    expect(r.reordered).toBe(0)
  })

  it('changes a link\'s delay in place', async () => {
    await p2.setLink({ delayMs: 50 })
    const longer = await p1.ping(p2, { count: 5, intervalMs: 100 })
    await p2.setLink({})
    const shorter = await p1.ping(p2, { count: 5, intervalMs: 100 })
    console.log(`p2 delay 50 ms: rtt min ${longer.rttMs?.min} ms; p2 undelayed: rtt min ${shorter.rttMs?.min} ms`)
    expect(longer.rttMs!.min).toBeGreaterThanOrEqual(2 * (DELAY_MS + 50))
    expect(shorter.rttMs!.min).toBeGreaterThanOrEqual(2 * DELAY_MS)
    expect(shorter.rttMs!.min).toBeLessThan(2 * (DELAY_MS + 50))
    await p2.setLink({ delayMs: DELAY_MS })
  })

  it('drops about the configured fraction in each direction, and lets the rest through', async () => {
    const count = 200
    const ping = await plain.ping(lossy, { count, intervalMs: 10, waitMs: 1000 })
    // a ping and its reply each cross the lossy link once
    const expected = 1 - (1 - LOSS) ** 2
    console.log(`loss ${LOSS} per direction: ${ping.sent - ping.received}/${ping.sent} pings lost (${(ping.loss * 100).toFixed(1)} %, expected ${(expected * 100).toFixed(1)} %)`)
    expect(ping.sent).toBe(count)
    expect(ping.received).toBeGreaterThanOrEqual(1)
    expect(ping.sent - ping.received).toBeGreaterThanOrEqual(1)
    // seven standard deviations either side of 51 % over 200 pings
    expect(ping.loss).toBeGreaterThan(0.25)
    expect(ping.loss).toBeLessThan(0.77)
  })

  it('takes at least as long as the rate implies to move bytes up and down a rate-limited link', async () => {
    const size = 2 * 1024 * 1024
    const bitsPerSecond = parseRate(RATE)
    // the token bucket may pass its burst at once, and the clock starts at the first segment
    const minMs = (size - burstBytes(bitsPerSecond) - 64 * 1024) * 8 / bitsPerSecond * 1000
    for (const [from, to] of [[slow, plain], [plain, slow]] as const) {
      const sink = await serve(to, 'sink', 9000)
      await probe(from, ['send', `${to.address}:9000`, String(size)])
      const got = JSON.parse(await waitForLine(sink, /^\{/))
      expect(got.bytes).toBe(size)
      const direction = from === slow ? 'up' : 'down'
      console.log(`${RATE} ${direction}: 2 MiB in ${got.ms.toFixed(0)} ms = ${(size * 8 / got.ms / 1000).toFixed(2)} Mbit/s of payload (at least ${minMs.toFixed(0)} ms expected)`)
      expect(got.ms).toBeGreaterThanOrEqual(minMs)
    }
  })
})

function fmt (rtt?: { min: number, avg: number, max: number }): string {
  return rtt == null ? 'none' : `${rtt.min}/${rtt.avg}/${rtt.max}`
}
