/**
 * Spawns real libp2p nodes (TCP on 127.0.0.1, Noise, Yamux, the DDS DHT) for
 * tests, wires them together and stops them all at the end.
 */
import { createDdsLibp2p, type DdsLibp2p, type DdsLibp2pInit } from '../../src/network/libp2p.js'

/** A set of started nodes that a test stops in `afterEach`/`afterAll`. */
export class TestNetwork {
  readonly nodes: DdsLibp2p[] = []

  /** Starts `count` nodes listening on 127.0.0.1 with random ports. */
  async spawn (count: number, init: DdsLibp2pInit = {}): Promise<DdsLibp2p[]> {
    const started = await Promise.all(Array.from({ length: count }, async () => createDdsLibp2p(init)))
    this.nodes.push(...started)
    return started
  }

  /** Dials `to` from `from` and waits until each is in the other's DHT routing table. */
  async connect (from: DdsLibp2p, to: DdsLibp2p): Promise<void> {
    await from.dial(to.getMultiaddrs(), { signal: AbortSignal.timeout(10_000) })
    await waitFor(async () => (await dhtKnows(from, to)) && (await dhtKnows(to, from)), 10_000, 'DHT routing tables to fill')
  }

  /** Connects every node in `nodes` to `hub` (a star) and refreshes routing tables. */
  async star (hub: DdsLibp2p, nodes: DdsLibp2p[]): Promise<void> {
    for (const node of nodes) {
      await this.connect(node, hub)
    }
    await Promise.all([hub, ...nodes].map(async n => n.services.dht.refreshRoutingTable({ signal: AbortSignal.timeout(10_000) }).catch(() => {})))
  }

  async stopAll (): Promise<void> {
    await Promise.all(this.nodes.splice(0).map(async n => { await Promise.resolve(n.stop()).catch(() => {}) }))
  }
}

/** True once `other` is in `node`'s DHT routing table (not just its address book). */
async function dhtKnows (node: DdsLibp2p, other: DdsLibp2p): Promise<boolean> {
  const table = (node.services.dht as unknown as { routingTable: { find(peer: unknown): Promise<unknown> } }).routingTable
  return (await table.find(other.peerId)) != null
}

/** Polls `check` until it returns true or `ms` pass. */
export async function waitFor (check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (await check()) {
      return
    }
    await new Promise(resolve => setTimeout(resolve, 25))
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`)
}
