// Whether this machine can build the testbed, and which iptables to use.
import { NS_PREFIX, inNs, ip, removeNamespace, run, tools } from './sys.mjs'
import { startDelayer } from './link.mjs'

const INSTALL = 'apt-get install -y iptables iputils-ping iproute2 python3'

/** Each rule the testbed relies on, tried in a scratch namespace. */
const PROBE_RULES = [
  ['raw', '-A PREROUTING -i lo -m statistic --mode random --probability 0.5 -j DROP'],
  ['mangle', '-A POSTROUTING -o lo -j NFQUEUE --queue-num 1'],
  ['nat', '-A POSTROUTING -o lo -j MASQUERADE --random-fully'],
  ['nat', '-A PREROUTING -i lo -p udp --dport 9 -j DNAT --to-destination 127.0.0.2:9'],
  ['filter', '-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED,DNAT -j ACCEPT']
]

/** @type {Promise<{ ok: boolean, reason?: string, iptables?: string, python?: string }> | undefined} */
let cached

/**
 * `{ ok: true }` when this machine can build a testbed (root, `ip netns`,
 * tc tbf, an iptables with the rules used here, ping, and a delayer that
 * binds an NFQUEUE); else `{ ok: false, reason }` naming what is missing.
 * The answer is computed once per process.
 */
export function testbedAvailable () {
  cached ??= probe()
  return cached
}

async function probe () {
  if (process.platform !== 'linux') {
    return { ok: false, reason: `needs Linux network namespaces (this is ${process.platform})` }
  }
  if (process.getuid?.() !== 0) {
    return { ok: false, reason: `needs root for \`ip netns\` and iptables (running as uid ${process.getuid?.()})` }
  }
  for (const [cmd, args, pkg] of [['ip', ['-V'], 'iproute2'], ['tc', ['-V'], 'iproute2'], ['ping', ['-V'], 'iputils-ping']]) {
    try {
      await run(cmd, args)
    } catch (err) {
      return { ok: false, reason: `\`${cmd}\` is missing or broken (${err.message}); install ${pkg} (${INSTALL})` }
    }
  }
  try {
    await run(tools.python, ['-c', 'import socket; socket.AF_NETLINK'])
  } catch (err) {
    return { ok: false, reason: `python3 with AF_NETLINK is needed for link delay (${err.message}); set DDS_TESTBED_PYTHON or ${INSTALL}` }
  }
  const ns = `${NS_PREFIX}${process.pid}-probe`
  try {
    await ip('netns', 'add', ns)
  } catch (err) {
    return { ok: false, reason: `\`ip netns add\` failed: ${err.message}` }
  }
  try {
    await ip('-n', ns, 'link', 'set', 'lo', 'up')
    try {
      await inNs(ns, 'tc', ['qdisc', 'add', 'dev', 'lo', 'root', 'tbf', 'rate', '1mbit', 'burst', '16384', 'latency', '100ms'])
    } catch (err) {
      return { ok: false, reason: `tc tbf does not work in a namespace: ${err.message}` }
    }
    const iptables = await pickIptables(ns)
    if (iptables.reason != null) {
      return { ok: false, reason: iptables.reason }
    }
    tools.iptables = iptables.cmd
    try {
      const delayer = await startDelayer(ns, 1, 1, 'the probe')
      delayer.expectedExit = true
      delayer.kill('SIGKILL')
    } catch (err) {
      return { ok: false, reason: `the NFQUEUE delayer cannot run (kernel without nfnetlink_queue?): ${err.message}` }
    }
    return { ok: true, iptables: tools.iptables, python: tools.python }
  } finally {
    await removeNamespace(ns)
  }
}

/** The first of iptables (nft or legacy, whichever it is) and iptables-legacy that accepts every rule. */
async function pickIptables (ns) {
  const failures = []
  for (const cmd of ['iptables', 'iptables-legacy']) {
    try {
      for (const [table, rule] of PROBE_RULES) {
        await inNs(ns, cmd, ['-w', '-t', table, ...rule.split(' ')])
      }
      await run(`${cmd}-restore`, ['--version'])
      return { cmd }
    } catch (err) {
      failures.push(err.message)
    }
  }
  return { reason: `no iptables here accepts the testbed's rules (${INSTALL}; the kernel needs NAT, conntrack, statistic and NFQUEUE): ${failures.join('; ')}` }
}
