/**
 * A small internet in network namespaces for NAT traversal scenarios: an
 * "internet" bridge with public hosts on 11.0.0.0/24, and home routers that
 * masquerade a private LAN (192.168.<n>.0/24) behind one public address,
 * either keeping a socket's source port (`port-preserving`, what most home
 * routers do) or picking a random one per connection (`symmetric`,
 * `MASQUERADE --random-fully`). Like a home router, a NAT lets in only
 * replies to what went out, plus explicit port forwards (DNAT).
 *
 * No namespace has a route to anything but the others: every packet stays
 * inside the namespaces made here, and `teardown()` removes them all (also
 * those of earlier runs whose process is gone). Needs root, `ip` and
 * `iptables`; `natNetAvailable()` says why not otherwise.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { promisify } from 'node:util'

const run = promisify(execFile)
const PREFIX = 'ddsn'

export type NatKind = 'port-preserving' | 'symmetric'

export interface Host {
  ns: string
  /** The host's address (public, or on its LAN behind a NAT). */
  addr: string
  /** The interface the host reaches the rest through. */
  dev: string
}

export interface Nat {
  ns: string
  /** Its public address on the internet bridge. */
  publicAddr: string
  kind: NatKind
  lan: number
}

async function ip (...args: string[]): Promise<void> {
  await run('ip', args)
}

async function inNs (ns: string, cmd: string, ...args: string[]): Promise<string> {
  const { stdout } = await run('ip', ['netns', 'exec', ns, cmd, ...args])
  return stdout
}

/** `{ ok: true }` when namespaces and iptables work here, else why not. */
export async function natNetAvailable (): Promise<{ ok: boolean, reason?: string }> {
  const probe = `${PREFIX}${process.pid}p`
  try {
    await ip('netns', 'add', probe)
    try {
      await inNs(probe, 'iptables', '-t', 'nat', '-L', '-n')
    } finally {
      await ip('netns', 'del', probe)
    }
    return { ok: true }
  } catch (err) {
    const e = err as { stderr?: string, message: string, code?: string }
    const reason = (e.stderr ?? e.message).toString().trim().split('\n')[0]
    return { ok: false, reason: `network namespaces with iptables are not available here (${reason}); these scenarios need root, iproute2 and iptables` }
  }
}

function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as { code?: string }).code === 'EPERM'
  }
}

export class NatNet {
  private readonly namespaces: string[] = []
  private readonly children = new Set<ChildProcess>()
  private hosts = 0
  private lans = 0
  readonly bridgeNs: string

  private constructor (bridgeNs: string) {
    this.bridgeNs = bridgeNs
  }

  /** Makes the internet bridge, after removing what dead earlier runs left. */
  static async create (): Promise<NatNet> {
    const { stdout } = await run('ip', ['netns', 'list']).catch(() => ({ stdout: '' }))
    for (const line of stdout.split('\n')) {
      const m = new RegExp(`^(${PREFIX}(\\d+)\\S*)`).exec(line)
      if (m != null && Number(m[2]) !== process.pid && !isAlive(Number(m[2]))) {
        await ip('netns', 'del', m[1]!).catch(() => {})
      }
    }
    const net = new NatNet(`${PREFIX}${process.pid}i`)
    await net.addNamespace(net.bridgeNs)
    await ip('-n', net.bridgeNs, 'link', 'add', 'br0', 'type', 'bridge')
    await ip('-n', net.bridgeNs, 'link', 'set', 'br0', 'up')
    process.once('exit', net.teardownSync)
    return net
  }

  private async addNamespace (ns: string): Promise<void> {
    await ip('netns', 'add', ns)
    this.namespaces.push(ns)
    await ip('-n', ns, 'link', 'set', 'lo', 'up')
  }

  /** A veth from namespace `ns` (device `dev`) to the internet bridge. */
  private async plugIntoInternet (ns: string, dev: string, addr: string): Promise<void> {
    const peer = `${dev}b`
    await ip('link', 'add', dev, 'netns', ns, 'type', 'veth', 'peer', 'name', peer, 'netns', this.bridgeNs)
    await ip('-n', this.bridgeNs, 'link', 'set', peer, 'master', 'br0')
    await ip('-n', this.bridgeNs, 'link', 'set', peer, 'up')
    await ip('-n', ns, 'addr', 'add', `${addr}/24`, 'dev', dev)
    await ip('-n', ns, 'link', 'set', dev, 'up')
  }

  /** A host with a public address on the internet. */
  async publicHost (): Promise<Host> {
    const n = ++this.hosts
    const ns = `${PREFIX}${process.pid}h${n}`
    await this.addNamespace(ns)
    const dev = `dn${process.pid % 10000}h${n}`
    const addr = `11.0.0.${n}`
    await this.plugIntoInternet(ns, dev, addr)
    return { ns, addr, dev }
  }

  /** A home router of the given kind, with its public address on the internet. */
  async nat (kind: NatKind): Promise<Nat> {
    const lan = ++this.lans
    const ns = `${PREFIX}${process.pid}n${lan}`
    await this.addNamespace(ns)
    const out = `dn${process.pid % 10000}o${lan}`
    const publicAddr = `11.0.0.${100 + lan}`
    await this.plugIntoInternet(ns, out, publicAddr)
    await inNs(ns, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1')
    const masquerade = ['-t', 'nat', '-A', 'POSTROUTING', '-o', out, '-j', 'MASQUERADE']
    if (kind === 'symmetric') {
      masquerade.push('--random-fully')
    }
    await inNs(ns, 'iptables', ...masquerade)
    // in from outside: replies to what went out, and port forwards only
    await inNs(ns, 'iptables', '-A', 'FORWARD', '-i', out, '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED,DNAT', '-j', 'ACCEPT')
    await inNs(ns, 'iptables', '-A', 'FORWARD', '-i', out, '-j', 'DROP')
    // nor does the router itself take unsolicited packets: one it accepted
    // (even to answer "port unreachable") would leave a conntrack entry that
    // makes the masquerade pick another port for the LAN host's own flow to
    // that peer, which is not how a home router behaves
    await inNs(ns, 'iptables', '-A', 'INPUT', '-i', out, '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT')
    await inNs(ns, 'iptables', '-A', 'INPUT', '-i', out, '-j', 'DROP')
    return { ns, publicAddr, kind, lan }
  }

  /** A host on `nat`'s LAN, its default route through the router. */
  async hostBehind (nat: Nat): Promise<Host> {
    const n = ++this.hosts
    const ns = `${PREFIX}${process.pid}h${n}`
    await this.addNamespace(ns)
    const dev = `dn${process.pid % 10000}h${n}`
    const routerDev = `${dev}r`
    await ip('link', 'add', dev, 'netns', ns, 'type', 'veth', 'peer', 'name', routerDev, 'netns', nat.ns)
    const gateway = `192.168.${nat.lan}.1`
    const addr = `192.168.${nat.lan}.${n + 1}`
    await ip('-n', nat.ns, 'addr', 'add', `${gateway}/24`, 'dev', routerDev)
    await ip('-n', nat.ns, 'link', 'set', routerDev, 'up')
    await ip('-n', ns, 'addr', 'add', `${addr}/24`, 'dev', dev)
    await ip('-n', ns, 'link', 'set', dev, 'up')
    await ip('-n', ns, 'route', 'add', 'default', 'via', gateway)
    return { ns, addr, dev }
  }

  /** Forwards `nat`'s public TCP port `port` to `host`'s port `hostPort`. */
  async portForward (nat: Nat, port: number, host: Host, hostPort: number): Promise<void> {
    await inNs(nat.ns, 'iptables', '-t', 'nat', '-A', 'PREROUTING', '-d', nat.publicAddr, '-p', 'tcp', '--dport', String(port), '-j', 'DNAT', '--to-destination', `${host.addr}:${hostPort}`)
  }

  /** Bytes received plus sent on a host's interface so far. */
  async bytesThrough (host: Host): Promise<number> {
    const read = async (what: string): Promise<number> => Number((await inNs(host.ns, 'cat', `/sys/class/net/${host.dev}/statistics/${what}`)).trim())
    return (await read('rx_bytes')) + (await read('tx_bytes'))
  }

  /** Starts `args` (a node script and its arguments) with this process's node inside `host`'s namespace, with an IPC channel. */
  spawnNode (host: Host, args: string[]): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', host.ns, process.execPath, ...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    this.children.add(child)
    child.once('exit', () => { this.children.delete(child) })
    return child
  }

  async teardown (): Promise<void> {
    for (const child of this.children) {
      child.kill('SIGKILL')
    }
    this.children.clear()
    for (const ns of this.namespaces.splice(0).reverse()) {
      await ip('netns', 'del', ns).catch(() => {})
    }
    process.off('exit', this.teardownSync)
  }

  private readonly teardownSync = (): void => {
    for (const child of this.children) {
      child.kill('SIGKILL')
    }
    for (const ns of this.namespaces.splice(0)) {
      try { execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' }) } catch {}
    }
  }
}

/** The namespaces of this process still present (for the test that checks teardown). */
export async function ownNamespaces (): Promise<string[]> {
  const { stdout } = await run('ip', ['netns', 'list']).catch(() => ({ stdout: '' }))
  return stdout.split('\n').map(l => l.split(' ')[0]!).filter(n => n.startsWith(`${PREFIX}${process.pid}`))
}

