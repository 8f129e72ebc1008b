// The bandwidth-limited swarm's network: one hub namespace (the retriever)
// and one namespace per seeder, each seeder joined to the hub by its own veth
// pair with a `tc` token-bucket limit on both ends. Addresses are private
// /30 pairs on those veths (10.222.<i>.1 hub side, 10.222.<i>.2 seeder side),
// and no namespace has a default route, so traffic can only flow between the
// hub and a seeder. Needs root (`ip netns`); everything is removed by
// `teardown()`, and again by `teardownSync()` if the process exits early.
import { execFile, execFileSync } from 'node:child_process'
import { promisify } from 'node:util'

const run = promisify(execFile)
const PREFIX = 'ddsb'
const created = new Set()

async function ip (...args) {
  await run('ip', args)
}

async function inNs (ns, cmd, ...args) {
  await run('ip', ['netns', 'exec', ns, cmd, ...args])
}

/** `{ ok: true }` when network namespaces can be made here, else `{ ok: false, reason }`. */
export async function netnsAvailable () {
  const probe = `${PREFIX}${process.pid}probe`
  try {
    await ip('netns', 'add', probe)
    await ip('netns', 'del', probe)
    return { ok: true }
  } catch (err) {
    const reason = (err.stderr || err.message || '').toString().trim().split('\n')[0]
    return { ok: false, reason: `\`ip netns add\` failed (${reason}); this part needs root and iproute2` }
  }
}

/** Removes namespaces left by earlier runs whose process is gone. */
export async function removeStale () {
  const { stdout } = await run('ip', ['netns', 'list']).catch(() => ({ stdout: '' }))
  for (const line of stdout.split('\n')) {
    const m = /^(ddsb(\d+)\S*)/.exec(line)
    if (m == null || Number(m[2]) === process.pid || isAlive(Number(m[2]))) {
      continue
    }
    await ip('netns', 'del', m[1]).catch(() => {})
  }
}

function isAlive (pid) {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return err.code === 'EPERM'
  }
}

/**
 * Creates the hub and `seeders` seeder namespaces, each link limited to
 * `rate` (a tc rate, e.g. '100mbit'). Returns their names and addresses.
 */
export async function createSwarmNetwork ({ seeders, rate }) {
  const hub = `${PREFIX}${process.pid}h`
  await addNamespace(hub)
  const links = []
  for (let i = 0; i < seeders; i++) {
    const ns = `${PREFIX}${process.pid}s${i}`
    await addNamespace(ns)
    const hubDev = `db${process.pid}h${i}`
    const seederDev = `db${process.pid}s${i}`
    await ip('link', 'add', hubDev, 'netns', hub, 'type', 'veth', 'peer', 'name', seederDev, 'netns', ns)
    const hubAddr = `10.222.${i}.1`
    const addr = `10.222.${i}.2`
    await configure(hub, hubDev, `${hubAddr}/30`, rate)
    await configure(ns, seederDev, `${addr}/30`, rate)
    links.push({ ns, addr, hubAddr })
  }
  return { hub, seeders: links }
}

async function addNamespace (ns) {
  await ip('netns', 'add', ns)
  created.add(ns)
  await ip('-n', ns, 'link', 'set', 'lo', 'up')
}

async function configure (ns, dev, cidr, rate) {
  await ip('-n', ns, 'addr', 'add', cidr, 'dev', dev)
  await ip('-n', ns, 'link', 'set', dev, 'up')
  // burst must exceed the largest (GSO) packet the veth hands over, 64 KiB
  await inNs(ns, 'tc', 'qdisc', 'add', 'dev', dev, 'root', 'tbf', 'rate', rate, 'burst', '256kb', 'latency', '50ms')
}

/** Deletes every namespace this process made (and with them their veths). */
export async function teardown () {
  for (const ns of [...created]) {
    await ip('netns', 'del', ns).catch(() => {})
    created.delete(ns)
  }
}

/** The same, synchronously, for a process that is exiting. */
export function teardownSync () {
  for (const ns of [...created]) {
    try { execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' }) } catch {}
    created.delete(ns)
  }
}
