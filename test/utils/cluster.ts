/**
 * The multi-node harness every test that starts nodes goes through: real DDS
 * nodes (and bare DDS libp2p nodes) on 127.0.0.1 with random ports, short
 * deadlines so failure paths end in seconds, temp directories for LevelDB
 * stores, and one `stop()` that tears it all down.
 *
 * ```ts
 * const cluster = new Cluster()
 * afterEach(async () => { await cluster.stop() })
 * const [a, b] = await cluster.network(2)
 * ```
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Dds, createDdsLibp2p, type DdsInit, type DdsLibp2p, type DdsLibp2pInit } from '../../src/index.js'
import { waitFor } from './wait.js'

/**
 * Short deadlines so that every failure path ends in seconds, and no
 * background replica fetches unless a test asks for them. A 256 KiB block
 * between two nodes on loopback takes milliseconds, so a test that passes
 * never waits these out, even on a loaded machine.
 */
export const FAST: DdsInit = {
  bootstrapTimeoutMs: 5_000,
  retrieval: { providerTimeoutMs: 3_000, blockTimeoutMs: 3_000 },
  discoveryOptions: { provideTimeout: 3_000, findTimeout: 3_000 },
  network: { requestTimeoutMs: 5_000 },
  replication: { factor: 1 }
}

/**
 * The nodes' own deadlines (those of `Dds.create`), and no background
 * replica fetches: for suites whose subject is a DHT lookup or a long fetch
 * that the short deadlines of FAST would cut.
 */
export const OWN_DEADLINES: DdsInit = { replication: { factor: 1 } }

function isPlainObject (value: unknown): value is Record<string, unknown> {
  return value != null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype
}

/** `init` over `defaults`; option groups (retrieval, network, ...) are merged key by key. */
export function withDefaults (defaults: DdsInit, init: DdsInit): DdsInit {
  const merged: Record<string, unknown> = { ...defaults, ...init }
  for (const [key, value] of Object.entries(defaults)) {
    const given = (init as Record<string, unknown>)[key]
    if (isPlainObject(value) && isPlainObject(given)) {
      merged[key] = { ...value, ...given }
    }
  }
  return merged as DdsInit
}

export class Cluster {
  private readonly nodes: Dds[] = []
  private readonly bare: DdsLibp2p[] = []
  private readonly dirs: string[] = []

  /** Every node gets `defaults` under its own init (FAST unless a suite needs other settings). */
  constructor (readonly defaults: DdsInit = FAST) {}

  /** Starts one node. */
  async node (init: DdsInit = {}): Promise<Dds> {
    const node = await Dds.create(withDefaults(this.defaults, init))
    this.nodes.push(node)
    return node
  }

  /**
   * Starts `count` nodes that all know each other: the first is the hub the
   * others bootstrap to (started side by side once it runs), then every pair
   * is dialled, so each node is a candidate for any other's requests and
   * copies.
   */
  async network (count: number, init: DdsInit = {}): Promise<Dds[]> {
    const hub = await this.node(init)
    const rest = await Promise.all(Array.from({ length: count - 1 }, async () => this.node({ ...init, bootstrap: hub.getMultiaddrs() })))
    await Promise.all(rest.flatMap((a, i) => rest.slice(i + 1).map(async b => { await a.libp2p.dial(b.libp2p.peerId).catch(() => {}) })))
    return [hub, ...rest]
  }

  /** Starts a bare DDS libp2p node (the DHT, no DDS service): a peer that knows nothing of the protocol. */
  async libp2p (init: DdsLibp2pInit = {}): Promise<DdsLibp2p> {
    const node = await createDdsLibp2p(init)
    this.bare.push(node)
    return node
  }

  /** Starts `count` bare libp2p nodes side by side. */
  async libp2ps (count: number, init: DdsLibp2pInit = {}): Promise<DdsLibp2p[]> {
    return Promise.all(Array.from({ length: count }, async () => this.libp2p(init)))
  }

  /** Dials `to` from `from` and waits until each is in the other's DHT routing table. */
  async connect (from: DdsLibp2p, to: DdsLibp2p): Promise<void> {
    await from.dial(to.getMultiaddrs(), { signal: AbortSignal.timeout(20_000) })
    await waitFor(async () => (await dhtKnows(from, to)) && (await dhtKnows(to, from)), 'DHT routing tables to fill')
  }

  /** Connects every node in `nodes` to `hub` (a star) and refreshes routing tables. */
  async star (hub: DdsLibp2p, nodes: DdsLibp2p[]): Promise<void> {
    await Promise.all(nodes.map(async node => { await this.connect(node, hub) }))
    await Promise.all([hub, ...nodes].map(async n => n.services.dht.refreshRoutingTable({ signal: AbortSignal.timeout(20_000) }).catch(() => {})))
  }

  /** A fresh temp directory (for a LevelDB store), removed by `stop()`. */
  async dir (prefix = 'dds-test-'): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), prefix))
    this.dirs.push(dir)
    return dir
  }

  /** Stops one node early (a publisher going away, a store reopened); `stop()` will not touch it again. */
  async stopNode (node: Dds | DdsLibp2p): Promise<void> {
    const list: Array<Dds | DdsLibp2p> = node instanceof Dds ? this.nodes : this.bare
    const at = list.indexOf(node)
    if (at >= 0) {
      list.splice(at, 1)
    }
    await node.stop()
  }

  /** Whether `node` was started here and not stopped yet. */
  running (node: Dds): boolean {
    return this.nodes.includes(node)
  }

  async stop (): Promise<void> {
    await Promise.all(this.nodes.splice(0).map(async n => { await n.stop().catch(() => {}) }))
    await Promise.all(this.bare.splice(0).map(async n => { await Promise.resolve(n.stop()).catch(() => {}) }))
    await Promise.all(this.dirs.splice(0).map(async d => { await rm(d, { recursive: true, force: true }) }))
  }
}

/** True once `other` is in `node`'s DHT routing table (not just its address book). */
async function dhtKnows (node: DdsLibp2p, other: DdsLibp2p): Promise<boolean> {
  const table = (node.services.dht as unknown as { routingTable: { find(peer: unknown): Promise<unknown> } }).routingTable
  return (await table.find(other.peerId)) != null
}

/** True when `node` holds `cid` pinned in full. */
export async function holdsWhole (node: Dds, cid: string): Promise<boolean> {
  return (await node.pins()).some(p => p.cid === cid && p.state === 'complete')
}
