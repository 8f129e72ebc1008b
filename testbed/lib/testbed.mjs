// The topology: an internet core, public hosts, NAT routers and the hosts
// behind them, each in its own network namespace.
import { readFileSync, writeFileSync } from 'node:fs'
import { Link, normalizeLink } from './link.mjs'
import { Node, killGroup, stopProcess } from './node.mjs'
import { testbedAvailable } from './available.mjs'
import { NS_PREFIX, ip, ipBatch, iptables, removeNamespace, removeNamespaceSync, removeStale, sysctl } from './sys.mjs'

/**
 * The internet's default subnet: part of the benchmarking range (RFC 2544),
 * standing for public addresses. In it the core is .0.1 (every public host's
 * and router's gateway), public hosts are .1.N and NAT routers .2.N.
 */
export const INTERNET_SUBNET = '198.18.0.0/16'
const MAX_PER_RANGE = 250

const NAME = /^[a-z][a-z0-9-]{0,11}$/
const NAT_KINDS = ['port-preserving', 'symmetric']

const live = new Set()
let testbeds = 0

/**
 * Builds an empty testbed: the internet core, ready for hosts and NATs.
 * Removes namespaces left by dead earlier runs first. Rejects with the
 * reason when `testbedAvailable()` says no.
 *
 * @param {{ internetSubnet?: string }} [opts]  an a.b.0.0/16 for the internet (default INTERNET_SUBNET)
 */
export async function createTestbed ({ internetSubnet = INTERNET_SUBNET, ...rest } = {}) {
  if (Object.keys(rest).length > 0) {
    throw new TypeError(`unknown testbed option ${Object.keys(rest).join(', ')} (internetSubnet)`)
  }
  const m = /^(\d{1,3})\.(\d{1,3})\.0\.0\/16$/.exec(String(internetSubnet))
  if (m == null || Number(m[1]) > 223 || Number(m[2]) > 255 || m[1] === '0' || m[1] === '127') {
    throw new TypeError(`internetSubnet must be a unicast a.b.0.0/16, not ${JSON.stringify(internetSubnet)}`)
  }
  const available = await testbedAvailable()
  if (!available.ok) {
    throw new Error(`the testbed cannot run here: ${available.reason}`)
  }
  await removeStale()
  if (live.size === 0) {
    raiseNeighbourLimits()
  }
  const testbed = new Testbed(`${NS_PREFIX}${process.pid}-${testbeds++}`, `${m[1]}.${m[2]}.`)
  live.add(testbed)
  if (live.size === 1) {
    process.on('exit', teardownAllSync)
  }
  try {
    await testbed.init()
  } catch (err) {
    await testbed.teardown()
    throw err
  }
  return testbed
}

/**
 * The kernel's ARP table is one for all namespaces, with a hard limit of
 * gc_thresh3 entries (1024 by default). Every testbed host is on-link with
 * every other (a /16, proxy ARP at the core), so N hosts that all talk hold
 * about N^2 entries: past ~32 busy hosts the table overflows ("neighbor table
 * overflow!" in dmesg) and new connections time out. A testbed raises the
 * limits while it runs and puts the old ones back when the last one ends.
 */
const NEIGH = '/proc/sys/net/ipv4/neigh/default/gc_thresh'
const NEIGH_LIMITS = { 1: 16_384, 2: 32_768, 3: 65_536 }
let savedNeighbourLimits

function raiseNeighbourLimits () {
  try {
    const before = Object.fromEntries(Object.keys(NEIGH_LIMITS).map(k => [k, Number(readFileSync(`${NEIGH}${k}`, 'utf8'))]))
    if (before[3] >= NEIGH_LIMITS[3]) {
      return
    }
    // highest first on the way up, so the thresholds stay ordered
    for (const k of [3, 2, 1]) writeFileSync(`${NEIGH}${k}`, String(NEIGH_LIMITS[k]))
    savedNeighbourLimits = before
  } catch {
    // not writable here: the testbed still runs, up to ~32 busy hosts
  }
}

function restoreNeighbourLimits () {
  if (savedNeighbourLimits == null || live.size > 0) {
    return
  }
  try {
    for (const k of [1, 2, 3]) writeFileSync(`${NEIGH}${k}`, String(savedNeighbourLimits[k]))
  } catch {}
  savedNeighbourLimits = undefined
}

/**
 * The scheduler shares the CPU between sessions (autogroups) before it
 * shares a session's part between its processes, and a niceness counts only
 * inside a session. Every node a testbed starts is a session of its own
 * (`spawn` starts it detached), while the links' delayers run in this
 * process's session: with 50 busy nodes on 2 cores, this session (the
 * delayers that are the links, and the harness that times everything) got
 * a 51st of the CPU, the delayers held packets longer than their delay and
 * the harness's timers ran 10-50 s late. The testbed's command line
 * (testbed/scale.mjs) raises this session's priority (`/proc/self/autogroup`,
 * root) while it runs; the session uses only what it needs, so the nodes keep
 * the rest. Inside a test run it is left alone: the session there holds every
 * test worker, which would then starve the nodes.
 */
const AUTOGROUP = '/proc/self/autogroup'
const AUTOGROUP_NICE = -15
let savedGroupNice

export function raiseGroupPriority () {
  try {
    const before = Number(/nice (-?\d+)/.exec(readFileSync(AUTOGROUP, 'utf8'))?.[1])
    if (!Number.isInteger(before) || before <= AUTOGROUP_NICE) {
      return
    }
    writeFileSync(AUTOGROUP, String(AUTOGROUP_NICE))
    savedGroupNice = before
  } catch {
    // no autogroups here (or not root): sessions are not weighed apart then either
  }
}

export function restoreGroupPriority () {
  if (savedGroupNice == null) {
    return
  }
  try {
    writeFileSync(AUTOGROUP, String(savedGroupNice))
  } catch {}
  savedGroupNice = undefined
}

function teardownAllSync () {
  for (const testbed of live) {
    testbed.teardownSync()
  }
  live.clear()
  restoreNeighbourLimits()
}

class Testbed {
  constructor (prefix, base) {
    /** The internet's a.b.0.0/16 */
    this.internetSubnet = `${base}0.0/16`
    this.base = base
    /** Every namespace of this testbed is named `<prefix>` (the core) or `<prefix>-<node name>`. */
    this.prefix = prefix
    /** @type {Map<string, Node>} */
    this.nodes = new Map()
    this.processes = new Set()
    this.namespaces = []
    this.links = []
    this.nextQueue = 1
    this.publicHosts = 0
    this.nats = 0
    this.closed = false
    this.internet = new Node({ name: 'internet', role: 'internet', ns: prefix, address: `${base}0.1`, processes: this.processes })
  }

  async init () {
    await this.#addNamespace(this.prefix, {
      'net/ipv4/ip_forward': 1,
      'net/ipv4/conf/all/send_redirects': 0,
      'net/ipv4/conf/all/rp_filter': 0,
      'net/ipv4/conf/all/proxy_arp': 1
    })
  }

  /**
   * A host on the internet with its own public address.
   *
   * @param {string} name  1-12 characters, [a-z0-9-], starting with a letter
   * @param {import('../index.d.mts').LinkSpec} [link]
   */
  async addPublicHost (name, link) {
    this.#checkName(name)
    normalizeLink(link)
    if (this.publicHosts >= MAX_PER_RANGE) {
      throw new Error(`at most ${MAX_PER_RANGE} public hosts`)
    }
    const address = `${this.base}1.${++this.publicHosts}`
    const host = this.#register(new Node({ name, role: 'public', ns: `${this.prefix}-${name}`, address, processes: this.processes }))
    await this.#addNamespace(host.ns)
    await this.#attach(host, this.internet, { childDev: 'eth0', cidr: `${address}/16`, gateway: this.internet.address, link })
    return host
  }

  /**
   * A NAT router: its outside interface `wan` on the internet, a LAN for
   * `addHostBehind`, MASQUERADE out of `wan` (port-preserving: the inside
   * source port is kept when free; symmetric: `--random-fully`, a random
   * port per new connection), and inbound traffic dropped unless it belongs
   * to a connection conntrack knows or to a port forward.
   *
   * @param {string} name
   * @param {{ kind: 'port-preserving' | 'symmetric', lanSubnet?: string }} opts
   * @param {import('../index.d.mts').LinkSpec} [link]  the router's uplink
   */
  async addNat (name, { kind, lanSubnet, ...rest } = {}, link) {
    this.#checkName(name)
    if (!NAT_KINDS.includes(kind)) {
      throw new TypeError(`NAT kind must be one of ${NAT_KINDS.join(', ')}, not ${JSON.stringify(kind)}`)
    }
    if (Object.keys(rest).length > 0) {
      throw new TypeError(`unknown NAT option ${Object.keys(rest).join(', ')} (kind, lanSubnet)`)
    }
    normalizeLink(link)
    if (this.nats >= MAX_PER_RANGE) {
      throw new Error(`at most ${MAX_PER_RANGE} NATs`)
    }
    const index = ++this.nats
    const lan = lanBase(lanSubnet ?? `192.168.${index}.0/24`, this.base)
    const nat = this.#register(new Node({ name, role: 'nat', ns: `${this.prefix}-${name}`, address: `${this.base}2.${index}`, processes: this.processes }))
    Object.assign(nat, {
      kind,
      lanSubnet: `${lan}0/24`,
      lanAddress: `${lan}1`,
      lanBase: lan,
      nextLanHost: 2,
      /** @type {Node[]} */
      hosts: [],
      /** @type {{ proto: string, outsidePort: number, host: string, insidePort: number }[]} */
      forwards: []
    })
    await this.#addNamespace(nat.ns, {
      'net/ipv4/ip_forward': 1,
      'net/ipv4/conf/all/send_redirects': 0,
      'net/ipv4/conf/all/rp_filter': 0,
      'net/ipv4/conf/all/proxy_arp': 1
    })
    await this.#attach(nat, this.internet, { childDev: 'wan', cidr: `${nat.address}/16`, gateway: this.internet.address, link })
    const masquerade = kind === 'symmetric' ? 'MASQUERADE --random-fully' : 'MASQUERADE'
    await iptables(nat.ns, {
      nat: [`-A POSTROUTING -o wan -j ${masquerade}`],
      filter: [
        '-P FORWARD DROP',
        '-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED,DNAT -j ACCEPT',
        '-A FORWARD ! -i wan -j ACCEPT',
        '-A INPUT -i lo -j ACCEPT',
        '-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT',
        '-A INPUT -i wan -p icmp --icmp-type echo-request -j ACCEPT',
        '-A INPUT -i wan -j DROP'
      ]
    })
    return nat
  }

  /**
   * A host on `nat`'s LAN, its default route through the router.
   *
   * @param {Node | string} natOrName
   * @param {string} name
   * @param {import('../index.d.mts').LinkSpec} [link]  the host's link to the router
   */
  async addHostBehind (natOrName, name, link) {
    const nat = this.#nat(natOrName)
    this.#checkName(name)
    normalizeLink(link)
    if (nat.nextLanHost > 254) {
      throw new Error(`${nat.name}'s LAN is full`)
    }
    const address = `${nat.lanBase}${nat.nextLanHost++}`
    const host = this.#register(new Node({ name, role: 'private', ns: `${this.prefix}-${name}`, address, processes: this.processes }))
    host.nat = nat
    host.publicAddress = nat.address
    nat.hosts.push(host)
    await this.#addNamespace(host.ns)
    await this.#attach(host, nat, { childDev: 'eth0', cidr: `${address}/24`, gateway: nat.lanAddress, link })
    return host
  }

  /**
   * Forwards `outsidePort` on the NAT's outside address to `host`'s
   * `insidePort` (DNAT). Resolves with the outside address and port to dial.
   *
   * @param {Node | string} natOrName
   * @param {{ proto?: 'tcp' | 'udp', outsidePort: number, host: Node | string, insidePort?: number }} forward
   */
  async portForward (natOrName, { proto = 'tcp', outsidePort, host, insidePort = outsidePort }) {
    const nat = this.#nat(natOrName)
    const target = this.#node(host)
    if (target.nat !== nat) {
      throw new Error(`${target.name} is not behind ${nat.name}`)
    }
    if (proto !== 'tcp' && proto !== 'udp') {
      throw new TypeError(`proto must be 'tcp' or 'udp', not ${JSON.stringify(proto)}`)
    }
    for (const port of [outsidePort, insidePort]) {
      if (!Number.isInteger(port) || port < 1 || port > 65535) {
        throw new TypeError(`ports must be integers in [1, 65535], not ${port}`)
      }
    }
    await iptables(nat.ns, {
      nat: [`-A PREROUTING -i wan -p ${proto} --dport ${outsidePort} -j DNAT --to-destination ${target.address}:${insidePort}`]
    })
    nat.forwards.push({ proto, outsidePort, host: target.name, insidePort })
    return { address: nat.address, port: outsidePort }
  }

  /**
   * RX/TX byte counters of a node's interfaces (loopback left out) and their sums.
   *
   * @param {Node | string} nodeOrName  a node, its name, or 'internet'
   */
  bytesThrough (nodeOrName) {
    return this.#node(nodeOrName).bytes()
  }

  /** The node with this name ('internet' for the core). */
  node (name) {
    return this.#node(name)
  }

  /** One plain row per node: name, role, namespace, addresses, link. */
  describe () {
    return [this.internet, ...this.nodes.values()].map(node => ({
      name: node.name,
      role: node.role === 'nat' ? `nat (${node.kind})` : node.role,
      ns: node.ns,
      address: node.address,
      publicAddress: node.publicAddress,
      lan: node.role === 'nat' ? node.lanSubnet : undefined,
      behind: node.nat?.name,
      link: node.link == null ? undefined : { ...node.link.spec }
    }))
  }

  /**
   * Stops every program started in the testbed (SIGTERM, then SIGKILL),
   * the delayers, and deletes every namespace. Safe to call twice.
   */
  async teardown () {
    if (this.closed) {
      return
    }
    this.closed = true
    await Promise.all([...this.processes].map(child => stopProcess(child)))
    await Promise.all(this.links.map(link => link.stop()))
    for (const ns of [...this.namespaces].reverse()) {
      await removeNamespace(ns)
    }
    this.namespaces = []
    live.delete(this)
    if (live.size === 0) {
      process.removeListener('exit', teardownAllSync)
      restoreNeighbourLimits()
    }
  }

  /** The same, synchronously and with SIGKILL, for a process that is exiting. */
  teardownSync () {
    this.closed = true
    for (const child of this.processes) {
      killGroup(child, 'SIGKILL')
    }
    for (const link of this.links) {
      if (link.delayer != null) {
        link.delayer.expectedExit = true
        killGroup(link.delayer, 'SIGKILL')
      }
    }
    for (const ns of [...this.namespaces].reverse()) {
      removeNamespaceSync(ns)
    }
    this.namespaces = []
    live.delete(this)
  }

  async #addNamespace (ns, values = {}) {
    if (this.closed) {
      throw new Error('this testbed has been torn down')
    }
    await ip('netns', 'add', ns)
    this.namespaces.push(ns)
    await sysctl(ns, {
      'net/ipv6/conf/all/disable_ipv6': 1,
      'net/ipv6/conf/default/disable_ipv6': 1,
      ...values
    })
  }

  /**
   * Joins `node` to `parent` (the core or a router) by a veth pair: the
   * child end gets `cidr` and a default route via `gateway`; the parent end
   * holds `gateway` (/32), a route to the node, and answers ARP for the
   * rest of the subnet (proxy ARP, without its default random delay).
   */
  async #attach (node, parent, { childDev, cidr, gateway, link }) {
    const l = new Link({ name: node.name, childNs: node.ns, childDev, parentNs: parent.ns, queue: this.nextQueue++ })
    this.links.push(l)
    await l.create()
    const dev = l.parentDev
    const address = cidr.split('/')[0]
    await Promise.all([
      ipBatch(parent.ns, [
        `addr add ${gateway}/32 dev ${dev}`,
        `ntable change name arp_cache dev ${dev} proxy_delay 0`,
        `link set ${dev} up`,
        `route add ${address}/32 dev ${dev}`
      ]),
      ipBatch(node.ns, [
        `addr add ${cidr} dev ${childDev}`,
        `link set ${childDev} up`,
        `route add default via ${gateway}`
      ])
    ])
    await l.apply(link)
    node.link = l
  }

  #register (node) {
    if (this.closed) {
      throw new Error('this testbed has been torn down')
    }
    this.nodes.set(node.name, node)
    return node
  }

  #checkName (name) {
    if (typeof name !== 'string' || !NAME.test(name) || name === 'internet') {
      throw new TypeError(`node names are 1-12 characters of [a-z0-9-] starting with a letter, and not 'internet': ${JSON.stringify(name)}`)
    }
    if (this.nodes.has(name)) {
      throw new Error(`there is already a node named ${name}`)
    }
  }

  #node (nodeOrName) {
    const name = typeof nodeOrName === 'string' ? nodeOrName : nodeOrName?.name
    const node = name === 'internet' ? this.internet : this.nodes.get(name)
    if (node == null || (typeof nodeOrName !== 'string' && node !== nodeOrName)) {
      throw new Error(`no node ${JSON.stringify(name)} in this testbed`)
    }
    return node
  }

  #nat (natOrName) {
    const nat = this.#node(natOrName)
    if (nat.role !== 'nat') {
      throw new Error(`${nat.name} is not a NAT`)
    }
    return nat
  }
}

/** '192.168.7.0/24' -> '192.168.7.' (only /24 LANs, outside the internet's a.b.0.0/16 `base`). */
function lanBase (subnet, base) {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.0\/24$/.exec(String(subnet))
  if (m == null || m.slice(1).some(octet => Number(octet) > 255)) {
    throw new TypeError(`lanSubnet must be an a.b.c.0/24 subnet, not ${JSON.stringify(subnet)}`)
  }
  if (`${m[1]}.${m[2]}.` === base) {
    throw new TypeError(`lanSubnet ${subnet} lies inside the internet's ${base}0.0/16`)
  }
  return `${m[1]}.${m[2]}.${m[3]}.`
}

