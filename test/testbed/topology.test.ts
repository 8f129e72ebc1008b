/**
 * The testbed's topology on real namespaces: public hosts reach each other,
 * hosts behind either kind of NAT reach them from the NAT's address, the
 * two NAT kinds map a UDP socket as they should, nothing comes in through a
 * NAT without a mapping or a port forward, interface counters see a
 * transfer, and teardown (or a dead run's leftovers) leaves nothing behind.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { execFileSync, spawn } from 'node:child_process'
import { createTestbed, listNamespaces, removeStale, waitForLine, NS_PREFIX } from '../../testbed/index.mjs'
import type { Host, Nat, Testbed } from '../../testbed/index.mjs'
import { available, portOf, probe, serve, title } from './helpers.js'

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe.skipIf(!available.ok)(title('testbed topology'), { timeout: 60_000 }, () => {
  let tb: Testbed
  let a: Host, b: Host, c: Host, d: Host
  let pp: Nat, sy: Nat

  beforeAll(async () => {
    tb = await createTestbed()
    ;[a, b] = await Promise.all([tb.addPublicHost('a'), tb.addPublicHost('b')])
    ;[pp, sy] = await Promise.all([tb.addNat('pp', { kind: 'port-preserving' }), tb.addNat('sy', { kind: 'symmetric' })])
    ;[c, d] = await Promise.all([tb.addHostBehind(pp, 'c'), tb.addHostBehind(sy, 'd')])
    await Promise.all([serve(a, 'udp-echo', 7000), serve(b, 'udp-echo', 7000), serve(a, 'udp-echo', 7002), serve(a, 'tcp-echo', 7001)])
  })

  afterAll(async () => {
    await tb?.teardown()
  })

  it('gives each node its own namespace and addresses on the internet or its LAN', () => {
    expect(a.address).toBe('198.18.1.1')
    expect(b.address).toBe('198.18.1.2')
    expect(pp.address).toBe('198.18.2.1')
    expect(pp.lanSubnet).toBe('192.168.1.0/24')
    expect(c.address).toBe('192.168.1.2')
    expect(c.publicAddress).toBe(pp.address)
    expect(d.address).toBe('192.168.2.2')
    expect(new Set(tb.describe().map(row => row.ns)).size).toBe(7)
    for (const row of tb.describe()) {
      expect(row.ns.startsWith(tb.prefix)).toBe(true)
    }
  })

  it('lets two public hosts ping each other', async () => {
    const [ab, ba] = await Promise.all([a.ping(b, { count: 5, intervalMs: 100 }), b.ping(a, { count: 5, intervalMs: 100 })])
    console.log(`a -> b: ${ab.received}/${ab.sent}, rtt avg ${ab.rttMs?.avg} ms; b -> a: ${ba.received}/${ba.sent}`)
    expect(ab).toMatchObject({ sent: 5, received: 5 })
    expect(ba).toMatchObject({ sent: 5, received: 5 })
  })

  it('lets a host behind either NAT reach a public host, which sees the NAT\'s address', async () => {
    for (const [host, nat] of [[c, pp], [d, sy]] as const) {
      const ping = await host.ping(a, { count: 3, intervalMs: 100 })
      expect(ping.received).toBe(3)
      const { seen } = await probe(host, ['tcp-ask', `${a.address}:7001`])
      console.log(`${host.name} (${host.address}) behind ${nat.kind} NAT seen by ${a.name} as ${seen}`)
      expect(seen).toMatch(new RegExp(`^${nat.address.replaceAll('.', '\\.')}:\\d+$`))
    }
  })

  it('keeps a UDP source port through the port-preserving NAT, for every destination', async () => {
    const r = await probe(c, ['udp-ask', '40000', `${a.address}:7000`, `${b.address}:7000`, `${a.address}:7002`])
    console.log('port-preserving, inside port 40000 seen as', r.seen)
    expect(Object.values(r.seen)).toEqual([`${pp.address}:40000`, `${pp.address}:40000`, `${pp.address}:40000`])
  })

  it('maps one inside UDP socket to different outside ports for different destinations through the symmetric NAT', async () => {
    const r = await probe(d, ['udp-ask', '40000', `${a.address}:7000`, `${b.address}:7000`, `${a.address}:7002`])
    console.log('symmetric, inside port 40000 seen as', r.seen)
    const seen = Object.values(r.seen) as string[]
    expect(seen).toHaveLength(3)
    for (const s of seen) {
      expect(s.startsWith(`${sy.address}:`)).toBe(true)
    }
    // random ports: three equal ones would take a 1 in 4e9 draw
    expect(new Set(seen.map(portOf)).size).toBeGreaterThan(1)
  })

  it('lets nothing in to a host behind a NAT without a mapping, and lets it in through a port forward', async () => {
    await Promise.all([serve(c, 'tcp-echo', 8000), serve(d, 'udp-echo', 8001)])
    // a's packets to the LAN addresses have no route on the internet
    expect((await a.ping(c.address, { count: 2, intervalMs: 100, waitMs: 1000 })).received).toBe(0)
    // the NAT's outside ports: dropped before a forward exists...
    const tcpBefore = await probe(a, ['tcp-ask', `${pp.address}:18000`, '--timeout', '1500'])
    const udpBefore = await probe(a, ['udp-ask', '0', `${sy.address}:18001`, '--timeout', '1500'])
    expect(tcpBefore.seen).toBeNull()
    expect(tcpBefore.error).toMatch(/no answer/)
    expect(udpBefore.seen[`${sy.address}:18001`]).toBeNull()

    // ...and sent on to the inside host after, which sees the real source
    expect(await tb.portForward(pp, { proto: 'tcp', outsidePort: 18000, host: c, insidePort: 8000 })).toEqual({ address: pp.address, port: 18000 })
    await tb.portForward(sy, { proto: 'udp', outsidePort: 18001, host: d, insidePort: 8001 })
    const tcpAfter = await probe(a, ['tcp-ask', `${pp.address}:18000`])
    const udpAfter = await probe(a, ['udp-ask', '0', `${sy.address}:18001`])
    console.log('through the forwards, the inside hosts saw', tcpAfter.seen, udpAfter.seen)
    expect(tcpAfter.seen).toMatch(new RegExp(`^${a.address.replaceAll('.', '\\.')}:\\d+$`))
    expect(udpAfter.seen[`${sy.address}:18001`]).toMatch(new RegExp(`^${a.address.replaceAll('.', '\\.')}:\\d+$`))
    expect(pp.forwards).toEqual([{ proto: 'tcp', outsidePort: 18000, host: 'c', insidePort: 8000 }])
  })

  it('drops unsolicited packets to the router itself (INPUT), as it drops those to its LAN (FORWARD): no reset, no answer', async () => {
    // a program listening on the router: its LAN reaches it, the internet does not
    await serve(pp, 'tcp-echo', 8100)
    const fromLan = await probe(c, ['tcp-ask', `${pp.lanAddress}:8100`])
    expect(fromLan.seen).toBe(`${c.address}:${portOf(fromLan.seen)}`)
    const fromOutside = await probe(a, ['tcp-ask', `${pp.address}:8100`, '--timeout', '1500'])
    expect(fromOutside.seen).toBeNull()
    expect(fromOutside.error).toMatch(/no answer/)
    // a closed port outside gets no reset either (a host would answer ECONNREFUSED)
    const closed = await probe(a, ['tcp-ask', `${sy.address}:8101`, '--timeout', '1500'])
    expect(closed.error).toMatch(/no answer/)
    // and the rule is there, on the outside interface only
    const { stdout } = await pp.exec(available.iptables!, ['-S', 'INPUT'])
    expect(stdout).toContain('-A INPUT -i wan -j DROP')
  })

  it('counts the bytes of a transfer on every interface it crossed', async () => {
    const size = 1024 * 1024
    const [aBefore, coreBefore, ppBefore] = await Promise.all([tb.bytesThrough(a), tb.bytesThrough('internet'), tb.bytesThrough(pp)])
    const sink = await serve(a, 'sink', 9000)
    const sent = await probe(c, ['send', `${a.address}:9000`, String(size)])
    expect(sent.bytes).toBe(size)
    expect(JSON.parse(await waitForLine(sink, /^\{/)).bytes).toBe(size)
    const [aAfter, coreAfter, ppAfter] = await Promise.all([tb.bytesThrough(a), tb.bytesThrough('internet'), tb.bytesThrough(pp)])
    const into = aAfter.interfaces.eth0!.rx - aBefore.interfaces.eth0!.rx
    console.log(`1 MiB from c to a: a eth0 rx +${into}, core v-a tx +${coreAfter.interfaces['v-a']!.tx - coreBefore.interfaces['v-a']!.tx}, router wan tx +${ppAfter.interfaces.wan!.tx - ppBefore.interfaces.wan!.tx}`)
    // payload plus TCP/IP headers (a few %), and no more than a tenth on top
    for (const delta of [
      into,
      coreAfter.interfaces['v-a']!.tx - coreBefore.interfaces['v-a']!.tx,
      coreAfter.interfaces['v-pp']!.rx - coreBefore.interfaces['v-pp']!.rx,
      ppAfter.interfaces.wan!.tx - ppBefore.interfaces.wan!.tx,
      ppAfter.interfaces['v-c']!.rx - ppBefore.interfaces['v-c']!.rx
    ]) {
      expect(delta).toBeGreaterThanOrEqual(size)
      expect(delta).toBeLessThan(size * 1.1)
    }
    // b saw none of it
    expect((await tb.bytesThrough(b)).rx).toBeLessThan(64 * 1024)
  })

  it('refuses bad names, duplicate names and bad options before it builds anything', async () => {
    await expect(tb.addPublicHost('Bad_Name')).rejects.toThrow(/node names/)
    await expect(tb.addPublicHost('internet')).rejects.toThrow(/node names/)
    await expect(tb.addPublicHost('a')).rejects.toThrow(/already a node named a/)
    await expect(tb.addPublicHost('x', { rate: '8 megabits' })).rejects.toThrow(/rate/)
    await expect(tb.addPublicHost('x', { loss: 1.5 })).rejects.toThrow(/loss/)
    await expect(tb.addNat('x', { kind: 'full-cone' as any })).rejects.toThrow(/kind/)
    await expect(tb.addHostBehind(a as any, 'x')).rejects.toThrow(/not a NAT/)
    await expect(tb.portForward(pp, { outsidePort: 1, host: d })).rejects.toThrow(/not behind pp/)
    await expect(tb.addNat('x', { kind: 'symmetric', lanSubnet: '198.18.9.0/24' })).rejects.toThrow(/inside the internet/)
    await expect(createTestbed({ internetSubnet: '10.0.0.0/8' })).rejects.toThrow(/internetSubnet/)
    expect(tb.nodes.has('x')).toBe(false)
  })

  it('builds its internet in another /16 when asked', async () => {
    const other = await createTestbed({ internetSubnet: '10.99.0.0/16' })
    try {
      const [x, home] = await Promise.all([other.addPublicHost('x'), other.addNat('home', { kind: 'symmetric' })])
      const y = await other.addHostBehind(home, 'y')
      expect([other.internet.address, x.address, home.address, y.address]).toEqual(['10.99.0.1', '10.99.1.1', '10.99.2.1', '192.168.1.2'])
      expect(other.prefix).not.toBe(tb.prefix)
      expect((await y.ping(x, { count: 2, intervalMs: 100 })).received).toBe(2)
    } finally {
      await other.teardown()
    }
  })

  it('stops every program and delayer and deletes every namespace at teardown', async () => {
    const sleeper = a.spawn('sleep', ['600'])
    await b.setLink({ delayMs: 5 })
    const inside = [...new Set(tb.describe().map(row => row.ns))]
    const pids = inside.flatMap(ns => execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split('\n').map(Number).filter(n => n > 0))
    // the probe servers, the sleeper and b's delayer (in the core)
    expect(pids.length).toBeGreaterThanOrEqual(6)
    expect(pids).toContain(sleeper.pid)
    await tb.teardown()
    expect((await listNamespaces()).filter(ns => ns.startsWith(tb.prefix))).toEqual([])
    expect(pids.filter(alive)).toEqual([])
  })
})

describe.skipIf(!available.ok)(title('testbed leftovers of a dead run'), { timeout: 60_000 }, () => {
  it('removes the namespaces of a dead process and kills what runs in them', async () => {
    // a pid that is certainly gone: a process that has exited
    const dead = spawn('true')
    await new Promise(resolve => dead.once('exit', resolve))
    const ns = `${NS_PREFIX}${dead.pid}-0-left`
    execFileSync('ip', ['netns', 'add', ns])
    const orphan = spawn('ip', ['netns', 'exec', ns, 'sleep', '600'], { stdio: 'ignore' })
    try {
      const removed = await removeStale()
      expect(removed).toContain(ns)
      expect(await listNamespaces()).not.toContain(ns)
      await new Promise(resolve => orphan.exitCode != null || orphan.signalCode != null ? resolve(undefined) : orphan.once('exit', resolve))
      expect(orphan.signalCode).toBe('SIGKILL')
    } finally {
      orphan.kill('SIGKILL')
      try { execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' }) } catch {}
    }
  })
})
