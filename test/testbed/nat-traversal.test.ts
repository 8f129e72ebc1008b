/**
 * NAT traversal across real (namespace) NAT routers of the testbed
 * (doc/TESTBED.md): each DDS node is a process in its own network namespace,
 * public ones on the testbed's internet, home ones behind masquerading
 * routers that drop what nobody inside asked for. Every link holds each
 * packet 20 ms. The relay is the bootstrap node and answers STUN; nothing
 * else is configured.
 *
 * Needs root with iproute2, iptables and python3 (CI installs them);
 * elsewhere the suite is skipped and says why.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import type { ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createHash, randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTestbed, listNamespaces, stopProcess, type Host, type Nat, type Testbed } from '../../testbed/index.mjs'
import { available, title } from './helpers.js'
import { waitForValue } from '../utils/wait.js'

const NODE = fileURLToPath(new URL('./dds-node.mjs', import.meta.url))
const BIN = fileURLToPath(new URL('../../dist/cli/bin.js', import.meta.url))
const PORT = 4180
const SIZE = 32 * 1024 * 1024
/** Every link: 20 ms each way (a home node's round trip to a public one crosses three links: 120 ms). */
const LINK = { delayMs: 20 }
/** A /16 libp2p counts as public, so the nodes treat the testbed's internet as the internet. */
const INTERNET = '11.0.0.0/16'

type NatKind = 'port-preserving' | 'symmetric'

/** Runs the `dds` CLI inside `host`'s namespace, as its operator would on that host. */
async function ddsIn (host: Host, args: string[]): Promise<string> {
  return (await host.execNode(BIN, args, { env: { ...process.env, NO_COLOR: '1' } })).stdout
}

interface Reply { [key: string]: unknown, error?: { name: string, message: string } }

class RemoteNode {
  readonly host: Host
  readonly child: ChildProcess
  peerId = ''
  private readonly replies: Array<(msg: Reply) => void> = []
  /** Rejects when the process exits: one listener for every request. */
  private readonly exited: Promise<never>

  constructor (host: Host, init: Record<string, unknown>) {
    this.host = host
    this.child = host.spawnNode(NODE, [JSON.stringify(init)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    this.child.on('message', (msg: Reply) => { this.replies.shift()?.(msg) })
    this.exited = once(this.child, 'exit').then(([code]) => { throw new Error(`node ${host.name} exited (${String(code)})`) })
    this.exited.catch(() => {})
  }

  async ready (): Promise<this> {
    const first = await this.next()
    if (first.error != null) throw new Error(`node ${this.host.name} failed to start: ${first.error.message}`)
    this.peerId = first.peerId as string
    return this
  }

  private async next (): Promise<Reply> {
    return Promise.race([
      new Promise<Reply>(resolve => { this.replies.push(resolve) }),
      this.exited
    ])
  }

  async ask (msg: Record<string, unknown>): Promise<Reply> {
    const reply = this.next()
    this.child.send(msg)
    return reply
  }

  async addrs (): Promise<string[]> {
    return (await this.ask({ op: 'addrs' })).addrs as string[]
  }
}

describe.skipIf(!available.ok)(title('NAT traversal in the testbed'), () => {
  let tb: Testbed
  let homes = 0
  let relayHost: Host
  let relay: RemoteNode
  let relayAddr: string
  const nodes: RemoteNode[] = []

  beforeAll(async () => {
    tb = await createTestbed({ internetSubnet: INTERNET })
    relayHost = await tb.addPublicHost('relay', LINK)
    relay = await new RemoteNode(relayHost, { listen: [`/ip4/${relayHost.address}/tcp/${PORT}`], relay: { server: true }, replication: { factor: 1 } }).ready()
    relayAddr = `/ip4/${relayHost.address}/tcp/${PORT}/p2p/${relay.peerId}`
  })

  afterEach(async () => {
    await Promise.all(nodes.splice(0).map(async n => n.ask({ op: 'stop' }).catch(() => {})))
  })

  afterAll(async () => {
    await relay?.ask({ op: 'stop' }).catch(() => {})
    const prefix = tb?.prefix
    await tb?.teardown()
    if (prefix != null) {
      expect((await listNamespaces()).filter(ns => ns === prefix || ns.startsWith(`${prefix}-`))).toEqual([])
    }
  })

  /** A router of `kind` with one host behind it. */
  async function home (kind: NatKind): Promise<{ router: Nat, host: Host }> {
    const n = ++homes
    const router = await tb.addNat(`nat${n}`, { kind }, LINK)
    const host = await tb.addHostBehind(router, `home${n}`, LINK)
    return { router, host }
  }

  async function homeNode (kind: NatKind): Promise<RemoteNode> {
    const { host } = await home(kind)
    const node = await new RemoteNode(host, {
      listen: [`/ip4/0.0.0.0/tcp/${PORT}`],
      bootstrap: [relayAddr],
      replication: { factor: 1 }
    }).ready()
    nodes.push(node)
    // it is not publicly reachable: it listens through the relay
    await waitForValue(async () => (await node.addrs()).find(a => a.includes('/p2p-circuit/p2p/')), `node ${host.name} to listen through the relay`)
    return node
  }

  /** One line per retrieval for the log: first byte, rate, when a direct connection opened, bytes through the relay. */
  function report (scenario: string, got: Reply, through?: number): void {
    const ms = got.ms as number
    const direct = got.directMs != null ? `, a direct connection opened after ${Math.round(got.directMs as number)} ms` : ''
    const relayed = through != null ? `, ${through} bytes through the relay's link (${(100 * through / (got.bytes as number)).toFixed(2)}%)` : ''
    console.log(`${scenario}: ${got.bytes as number} bytes, first byte after ${Math.round(got.firstByteMs as number)} ms, ` +
      `${((got.bytes as number) / 1048576 / (ms / 1000)).toFixed(1)} MiB/s overall${direct}${relayed}`)
  }

  /** Bytes received plus sent on the relay's link so far. */
  async function relayBytes (): Promise<number> {
    const bytes = await tb.bytesThrough(relayHost)
    return bytes.rx + bytes.tx
  }

  it('two hosts behind symmetric NATs: the retrieval fails within 60 s with an error that names the reason', async () => {
    const a = await homeNode('symmetric')
    const b = await homeNode('symmetric')
    const published = await a.ask({ op: 'publish', size: 4 * 1024 * 1024, seed: 2 })
    // B reaches A through the relay first, so the manifest comes over the
    // relayed connection and what fails is the chunks' direct path
    const circuit = (await a.addrs()).find(addr => addr.includes('/p2p-circuit/p2p/'))!
    expect((await b.ask({ op: 'connect', addr: circuit })).error).toBeUndefined()
    const started = Date.now()
    const failed = await b.ask({ op: 'retrieve', cid: published.cid })
    const took = Date.now() - started
    expect(failed.error?.name).toBe('NotFoundError')
    expect(failed.error?.message).toContain('NoDirectPathError')
    expect(failed.error?.message).toContain('reachable only through a relay')
    expect(took).toBeLessThan(60_000)
    console.log(`symmetric NATs: failed after ${took} ms: ${failed.error?.message.slice(0, 200)}`)

  })

  it('two hosts behind port-preserving NATs: the content moves directly after hole punching, not through the relay', async () => {
    const a = await homeNode('port-preserving')
    const b = await homeNode('port-preserving')
    const published = await a.ask({ op: 'publish', size: SIZE, seed: 1 })
    expect(published.error).toBeUndefined()

    const before = await relayBytes()
    const got = await b.ask({ op: 'retrieve', cid: published.cid })
    const through = (await relayBytes()) - before
    expect(got.error).toBeUndefined()
    expect(got.bytes).toBe(SIZE)
    expect(got.sha256).toBe(published.sha256)
    // at most 5% of the content's bytes crossed the relay's interface
    expect(through).toBeLessThan(SIZE * 0.05)
    const toA = (got.connections as Array<{ peer: string, connections: Array<{ addr: string, relayed: boolean }> }>).find(p => p.peer === a.peerId)
    expect(toA?.connections.some(c => !c.relayed && c.addr.includes('/webrtc'))).toBe(true)
    report('port-preserving NATs', got, through)
  })

  it('two hosts behind symmetric NATs: a public holder that fetched the content serves it', async () => {
    const holderHost = await tb.addPublicHost('holder', LINK)
    const holder = await new RemoteNode(holderHost, {
      listen: [`/ip4/${holderHost.address}/tcp/${PORT}`],
      bootstrap: [relayAddr],
      replication: { factor: 1 }
    }).ready()
    nodes.push(holder)
    const holderAddr = `/ip4/${holderHost.address}/tcp/${PORT}/p2p/${holder.peerId}`
    const a = await homeNode('symmetric')
    // A dials out to the public holder, as any node does to the peers it
    // learns of; the holder fetches over that connection
    expect((await a.ask({ op: 'connect', addr: holderAddr })).error).toBeUndefined()
    const published = await a.ask({ op: 'publish', size: 8 * 1024 * 1024, seed: 4 })
    expect(published.error).toBeUndefined()
    const pinned = await holder.ask({ op: 'pin', cid: published.cid })
    expect(pinned.error).toBeUndefined()

    const b = await homeNode('symmetric')
    const before = await relayBytes()
    // behind their NATs A and B only ask the DHT: lookups never send peers to them
    expect((await a.ask({ op: 'dht-mode' })).mode).toBe('client')
    expect((await b.ask({ op: 'dht-mode' })).mode).toBe('client')
    expect((await holder.ask({ op: 'dht-mode' })).mode).toBe('server')
    const got = await b.ask({ op: 'retrieve', cid: published.cid })
    const through = (await relayBytes()) - before
    expect(got.error).toBeUndefined()
    expect(got.sha256).toBe(published.sha256)
    const toHolder = (got.connections as Array<{ peer: string, connections: Array<{ addr: string, relayed: boolean }> }>).find(p => p.peer === holder.peerId)
    expect(toHolder?.connections.some(c => !c.relayed && c.addr.startsWith(`/ip4/${holderHost.address}/`))).toBe(true)
    report('symmetric NATs, public holder', got, through)
  })

  it('a daemon behind a NAT: dds id shows its relayed address, dds peers which connections are direct and which relayed', async () => {
    const { host } = await home('symmetric')
    const repo = await mkdtemp(join(tmpdir(), 'dds-testbed-daemon-'))
    let daemon: ChildProcess | undefined
    try {
      daemon = host.spawnNode(BIN, ['daemon', '--repo', repo, '--listen', `/ip4/0.0.0.0/tcp/${PORT}`, '--gateway', '127.0.0.1:0', '--bootstrap', relayAddr], { stdio: ['ignore', 'inherit', 'inherit'] })
      expect(daemon.pid).toBeGreaterThan(0)
      const id = await waitForValue(async () => {
        const text = await ddsIn(host, ['id', '--json', '--repo', repo]).catch(() => undefined)
        const parsed = text != null ? JSON.parse(text) as { peer: string, addrs: string[] } : undefined
        return parsed?.addrs.some(a => a.includes('/p2p-circuit/')) === true ? parsed : undefined
      }, 'dds id on the NAT\'d daemon to show a relayed address')
      const circuit = id.addrs.find(a => a.includes('/p2p-circuit/'))!
      expect(circuit).toBe(`${relayAddr}/p2p-circuit/p2p/${id.peer}`)
      // no address it lists but the relayed one is reachable from outside: it tells no public one
      expect(id.addrs.filter(a => !a.includes('/p2p-circuit/')).every(a => /\/ip4\/(127\.|192\.168\.)/.test(a))).toBe(true)

      // a peer behind another symmetric NAT reaches it through the relay only
      const b = await homeNode('symmetric')
      expect((await b.ask({ op: 'connect', addr: circuit })).error).toBeUndefined()
      type Peers = Array<{ peer: string, connections: Array<{ addr: string, relayed: boolean }> }>
      const peers = await waitForValue(async () => {
        const list = JSON.parse(await ddsIn(host, ['peers', '--json', '--repo', repo])) as Peers
        return list.some(p => p.peer === b.peerId) ? list : undefined
      }, 'the daemon to list B')
      expect(peers.find(p => p.peer === relay.peerId)?.connections.every(c => !c.relayed)).toBe(true)
      expect(peers.find(p => p.peer === b.peerId)?.connections.every(c => c.relayed)).toBe(true)
      const table = await ddsIn(host, ['peers', '--repo', repo])
      expect(table.split('\n').find(line => line.startsWith(b.peerId))).toMatch(/ relayed /)
      expect(table.split('\n').find(line => line.startsWith(relay.peerId))).toMatch(/ direct /)
      console.log(`dds peers on a daemon behind a symmetric NAT:\n${table}`)
    } finally {
      if (daemon != null) {
        await stopProcess(daemon)
      }
      await rm(repo, { recursive: true, force: true })
    }
  })

  it('the README\'s network as written: a public daemon with --relay-server, two daemons at home with --bootstrap only; a file published at one home is got at the other', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dds-testbed-readme-'))
    const repos = { server: join(dir, 'server'), alice: join(dir, 'alice'), bob: join(dir, 'bob') }
    const daemons: ChildProcess[] = []
    const daemon = (host: Host, repo: string, args: string[]): void => {
      daemons.push(host.spawnNode(BIN, ['daemon', '--repo', repo, '--gateway', '127.0.0.1:0', ...args], { stdio: ['ignore', 'inherit', 'inherit'] }))
    }
    const id = async (host: Host, repo: string): Promise<{ peer: string, addrs: string[] } | undefined> =>
      JSON.parse(await ddsIn(host, ['id', '--json', '--repo', repo]).catch(() => 'null')) ?? undefined
    try {
      // "Public nodes ... dds daemon --relay-server" (TCP 4180 and QUIC 4181 by default)
      const serverHost = await tb.addPublicHost('server', LINK)
      daemon(serverHost, repos.server, ['--relay-server'])
      const server = await waitForValue(async () => await id(serverHost, repos.server), 'the public daemon to start')
      const bootstrap = `/ip4/${serverHost.address}/tcp/4180/p2p/${server.peer}`

      // "Nodes at home need nothing but a bootstrap list"
      const alice = await home('port-preserving')
      const bob = await home('port-preserving')
      daemon(alice.host, repos.alice, ['--bootstrap', bootstrap])
      daemon(bob.host, repos.bob, ['--bootstrap', bootstrap])
      for (const [name, h, repo] of [['alice', alice.host, repos.alice], ['bob', bob.host, repos.bob]] as const) {
        const seen = await waitForValue(async () => {
          const info = await id(h, repo)
          return info?.addrs.some(a => a.includes('/p2p-circuit/')) === true ? info : undefined
        }, `${name}'s daemon to listen through the server`)
        expect(seen.addrs.find(a => a.includes('/p2p-circuit/'))).toBe(`${bootstrap}/p2p-circuit/p2p/${seen.peer}`)
      }

      const bytes = randomBytes(8 * 1024 * 1024)
      const file = join(dir, 'track.flac')
      await writeFile(file, bytes)
      const cid = (await ddsIn(alice.host, ['publish', file, '--repo', repos.alice])).trim().split('\n').at(-1)!.trim()
      const out = join(dir, 'got.flac')
      const got = await bob.host.execNode(BIN, ['get', cid, '-o', out, '--repo', repos.bob], { allowFailure: true, timeoutMs: 120_000 })
      expect(got.code, got.stderr).toBe(0)
      expect(createHash('sha256').update(await readFile(out)).digest('hex')).toBe(createHash('sha256').update(bytes).digest('hex'))
      const peers = JSON.parse(await ddsIn(bob.host, ['peers', '--json', '--repo', repos.bob])) as Array<{ peer: string, connections: Array<{ addr: string, relayed: boolean }> }>
      const aliceId = (await id(alice.host, repos.alice))!.peer
      expect(peers.find(p => p.peer === aliceId)?.connections.some(c => !c.relayed)).toBe(true)
    } finally {
      await Promise.all(daemons.map(async d => stopProcess(d)))
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('a node behind a port forward that announces its public address is found and retrieved from through that address', async () => {
    const { router, host } = await home('port-preserving')
    const forward = await tb.portForward(router, { outsidePort: PORT, host })
    const announced = `/ip4/${forward.address}/tcp/${forward.port}`
    const a = await new RemoteNode(host, {
      listen: [`/ip4/0.0.0.0/tcp/${PORT}`],
      announceAddrs: [announced],
      bootstrap: [relayAddr],
      replication: { factor: 1 }
    }).ready()
    nodes.push(a)
    expect(await a.addrs()).toContain(`${announced}/p2p/${a.peerId}`)
    // it announces a public address: it serves the DHT like any public node
    await waitForValue(async () => (await a.ask({ op: 'dht-mode' })).mode === 'server' ? true : undefined, 'the forwarded node to serve the DHT')
    const published = await a.ask({ op: 'publish', size: 8 * 1024 * 1024, seed: 3 })

    const b = await homeNode('port-preserving')
    const got = await b.ask({ op: 'retrieve', cid: published.cid })
    expect(got.error).toBeUndefined()
    expect(got.sha256).toBe(published.sha256)
    const toA = (got.connections as Array<{ peer: string, connections: Array<{ addr: string, relayed: boolean }> }>).find(p => p.peer === a.peerId)
    expect(toA?.connections.some(c => !c.relayed && c.addr.startsWith(announced))).toBe(true)
    report('port forward and --announce', got)
  })

  it('a node listening only on WebSockets and one dialing only WebSockets exchange content', async () => {
    const wsHost = await tb.addPublicHost('ws', LINK)
    const a = await new RemoteNode(wsHost, { listen: [`/ip4/${wsHost.address}/tcp/${PORT}/ws`], replication: { factor: 1 } }).ready()
    nodes.push(a)
    expect((await a.addrs()).every(addr => addr.includes('/ws/'))).toBe(true)
    const published = await a.ask({ op: 'publish', size: 8 * 1024 * 1024, seed: 5 })
    const { host } = await home('port-preserving')
    const b = await new RemoteNode(host, { listen: [], bootstrap: [`/ip4/${wsHost.address}/tcp/${PORT}/ws/p2p/${a.peerId}`], replication: { factor: 1 } }).ready()
    nodes.push(b)
    const got = await b.ask({ op: 'retrieve', cid: published.cid })
    expect(got.error).toBeUndefined()
    expect(got.sha256).toBe(published.sha256)
    const toA = (got.connections as Array<{ peer: string, connections: Array<{ addr: string, relayed: boolean }> }>).find(p => p.peer === a.peerId)
    expect(toA?.connections.length).toBeGreaterThan(0)
    expect(toA?.connections.every(c => c.addr.includes('/ws'))).toBe(true)
    report('WebSockets', got)
  })
})
