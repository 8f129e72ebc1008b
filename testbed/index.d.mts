/** Types of index.mjs: the network-namespace testbed (doc/TESTBED.md). */
import type { ChildProcess, SpawnOptions } from 'node:child_process'

/**
 * A link's shape. Each field applies to both directions of the link
 * separately: `rate` caps upload and download each, `loss` drops that
 * fraction of each direction's packets, `delayMs` holds each packet that
 * long in each direction (a link adds 2 × delayMs to a round trip), or,
 * with `delayOn: 'up'`, 2 × delayMs on the way up and none on the way down.
 */
export interface LinkSpec {
  /** A tc rate: '500kbit', '20mbit', '1gbit'. Default: no limit. */
  rate?: string
  /** One-way delay in milliseconds, [0, 60000]. Default 0. */
  delayMs?: number
  /** Fraction of packets dropped, [0, 1]. Default 0. */
  loss?: number
  /**
   * Where the delay is held: 'both' ways, or all of it on the way 'up'
   * (the same round trip; between two hosts that both link so, the same
   * delay each way, for half the delayer's work). Default 'both'.
   */
  delayOn?: 'both' | 'up'
}

export interface Bytes {
  rx: number
  tx: number
  /** Per interface (loopback left out): `eth0` on a host; `wan` and `v-<host>` on a router; `v-<node>` on the internet. */
  interfaces: Record<string, { rx: number, tx: number }>
}

export interface PingResult {
  address: string
  sent: number
  received: number
  /** 1 - received / sent */
  loss: number
  /** Absent when nothing came back. */
  rttMs?: { min: number, avg: number, max: number, mdev: number }
}

export interface ExecResult {
  code: number | null
  signal: string | null
  stdout: string
  stderr: string
}

export interface ExecOptions {
  /** Killed (and rejected) after this long. Default 60000. */
  timeoutMs?: number
  /** Resolve on a non-zero exit instead of rejecting. Default false. */
  allowFailure?: boolean
  input?: string
  env?: NodeJS.ProcessEnv
  cwd?: string
}

/** A namespace of the testbed. */
export interface Node {
  readonly name: string
  readonly role: 'internet' | 'public' | 'nat' | 'private'
  /** The namespace: `ip netns exec <ns> ...` reaches it from a shell. */
  readonly ns: string
  /** Its own address: a host's, a router's outside (wan) one, the core's a.b.0.1. */
  readonly address: string
  /** Where its traffic appears to come from on the internet: its NAT's address for a host behind one. */
  readonly publicAddress: string
  /** Runs `cmd args` inside the namespace in its own process group; killed at teardown. */
  spawn (cmd: string, args?: string[], opts?: SpawnOptions): ChildProcess
  /** `spawn` with the Node binary running the testbed (`process.execPath`). */
  spawnNode (script: string, args?: string[], opts?: SpawnOptions): ChildProcess
  /** Runs `cmd args` inside the namespace to the end. */
  exec (cmd: string, args?: string[], opts?: ExecOptions): Promise<ExecResult>
  execNode (script: string, args?: string[], opts?: ExecOptions): Promise<ExecResult>
  /** Pings from here; lost replies are counted, not thrown. Defaults: 10 pings, 200 ms apart, 2000 ms wait. */
  ping (target: string | Node, opts?: { count?: number, intervalMs?: number, waitMs?: number }): Promise<PingResult>
  /** This namespace's interface counters. */
  bytes (): Promise<Bytes>
  /** Changes the node's own link (not for the internet core). */
  setLink (spec: LinkSpec): Promise<void>
}

export interface Host extends Node {
  readonly role: 'public' | 'private'
  /** The NAT a private host is behind. */
  readonly nat?: Nat
}

export interface Nat extends Node {
  readonly role: 'nat'
  readonly kind: 'port-preserving' | 'symmetric'
  /** e.g. '192.168.1.0/24' */
  readonly lanSubnet: string
  /** The router's address on its LAN, the hosts' gateway: e.g. '192.168.1.1'. */
  readonly lanAddress: string
  readonly hosts: Host[]
  readonly forwards: Array<{ proto: 'tcp' | 'udp', outsidePort: number, host: string, insidePort: number }>
}

export interface NodeDescription {
  name: string
  role: string
  ns: string
  address: string
  publicAddress?: string
  lan?: string
  behind?: string
  link?: { rate?: string, delayMs: number, loss: number, delayOn: 'both' | 'up' }
}

export interface Testbed {
  /** Every namespace of this testbed is named `<prefix>` (the core) or `<prefix>-<node name>`. */
  readonly prefix: string
  /** The internet's a.b.0.0/16. */
  readonly internetSubnet: string
  /** The core: routes between every public host and router (a.b.0.1). */
  readonly internet: Node
  readonly nodes: ReadonlyMap<string, Node>
  /** A host with its own public address (a.b.1.N). Names: 1-12 of [a-z0-9-], starting with a letter. */
  addPublicHost (name: string, link?: LinkSpec): Promise<Host>
  /**
   * A NAT router (outside address a.b.2.N, LAN 192.168.N.0/24 unless
   * `lanSubnet`): MASQUERADE, port-preserving or symmetric
   * (`--random-fully`); inbound dropped unless conntrack knows it or a
   * port forward sends it on. `link` shapes the router's uplink.
   */
  addNat (name: string, opts: { kind: 'port-preserving' | 'symmetric', lanSubnet?: string }, link?: LinkSpec): Promise<Nat>
  /** A host on the NAT's LAN (gateway: the router); `link` shapes its link to the router. */
  addHostBehind (nat: Nat | string, name: string, link?: LinkSpec): Promise<Host>
  /** DNAT from the NAT's outside `outsidePort` to `host`'s `insidePort` (default: the same). */
  portForward (nat: Nat | string, forward: { proto?: 'tcp' | 'udp', outsidePort: number, host: Host | string, insidePort?: number }): Promise<{ address: string, port: number }>
  bytesThrough (node: Node | string): Promise<Bytes>
  node (name: string): Node
  describe (): NodeDescription[]
  /** Kills every program started in it and the delayers, deletes every namespace. */
  teardown (): Promise<void>
  /** The same, synchronously (run by itself when the process exits). */
  teardownSync (): void
}

export interface TestbedOptions {
  /**
   * The internet's a.b.0.0/16: the core is a.b.0.1, public hosts a.b.1.N,
   * NAT routers a.b.2.N. Default INTERNET_SUBNET (198.18.0.0/16), which
   * libp2p counts as private; see doc/TESTBED.md before choosing another.
   */
  internetSubnet?: string
}

export function createTestbed (opts?: TestbedOptions): Promise<Testbed>
export function testbedAvailable (): Promise<{ ok: boolean, reason?: string, iptables?: string, python?: string }>
/** Removes namespaces (and their processes) of dead earlier runs; resolves with their names. */
export function removeStale (): Promise<string[]>
export function listNamespaces (): Promise<string[]>
export const NS_PREFIX: string
/** '198.18.0.0/16' */
export const INTERNET_SUBNET: string
/** Path of probe.mjs (udp-echo, udp-ask, udp-burst, tcp-echo, tcp-ask, sink, send). */
export const PROBE: string
export function waitForLine (child: ChildProcess, match: RegExp | ((line: string) => boolean), opts?: { timeoutMs?: number }): Promise<string>
export function stopProcess (child: ChildProcess, graceMs?: number): Promise<void>
/** Bits per second of a tc rate string. */
export function parseRate (rate: string): number
/** The tbf burst (bytes) used for a rate in bits per second. */
export function burstBytes (bitsPerSecond: number): number

/** Options of `runScale` (defaults in SCALE_DEFAULTS; flags of `npm run testbed -- --nodes N`). */
export interface ScaleOptions {
  /** DDS nodes, one process and one namespace each. */
  nodes: number
  /** Each link's one-way delay, ms (node to node round trip: 4x). @default 0 */
  delayMs?: number
  /** Each link's loss per direction, percent. @default 0 */
  lossPct?: number
  /** Each link's rate, e.g. '100mbit'. @default unlimited */
  rate?: string
  /** Content each publisher publishes, bytes. @default 1048576 */
  sizeBytes?: number
  /** Nodes that publish one content each. @default 8 */
  publishers?: number
  /** First-byte retrievals. @default 50 */
  retrievals?: number
  /** Churn: `pct` % of the nodes SIGKILLed and replaced every `intervalMs`, for `durationS`. */
  churn?: { pct: number, intervalMs: number }
  /** How long churn runs, s. @default 600 */
  durationS?: number
  /** The probe's period during churn, ms. @default 2000 */
  probeIntervalMs?: number
  /** One retrieval's deadline, ms. @default 30000 */
  retrievalTimeoutMs?: number
  /** The nodes' replication check interval, ms. @default DDS's (300000) */
  checkIntervalMs?: number
  /** Check intervals from the last kills that the run waits for every content to be back at its factor. @default 3 */
  factorWaitIntervals?: number
  /** Records one node announces in one sweep in the announcing scenario; 0 leaves it out. @default 0 */
  announceRecords?: number
  /** Records the same node announces one DHT provide each (8 at a time), to compare. @default 200 */
  announceSingles?: number
  /** Retrievals before and after the re-announcement cycle, the throughput without it. @default 8 */
  reannounceSamples?: number
  /** How long the network is left alone at the end to measure its idle CPU; 0 leaves it out. @default 30000 */
  idleCpuMs?: number
  startConcurrency?: number
  bootstrapPeers?: number
  formedTableSize?: number
  formTimeoutPerNodeMs?: number
}

/** What `runScale` measured (the JSON written to testbed/results/). */
export interface ScaleResult {
  seed: number
  options: Required<Omit<ScaleOptions, 'rate' | 'churn' | 'checkIntervalMs'>> & ScaleOptions & { roundTripMs: number }
  namespacePrefix: string
  buildMs: number
  startMs: number
  dhtFormedMs: number
  routingTable: { min: number, median: number, max: number }
  memoryIdle: { nodes: number, medianMiB: number, maxMiB: number, totalMiB: number }
  memoryLoaded: { nodes: number, medianMiB: number, maxMiB: number, totalMiB: number }
  /** At the end, the live nodes left alone for `idleCpuMs`: the cores their processes and the whole machine used, each node's CPU a minute. */
  idle?: { nodes: number, seconds: number, cores: { nodes: number, machine: number }, msPerNodeMinute: number }
  publish: { contents: number, sizeBytes: number, ms: number, each: Array<{ cid: string, publisher: number, ms: number }> }
  firstByte: {
    retrievals: number
    ok: number
    firstByteMs: { median?: number, p95?: number, max?: number }
    mibPerS: { median?: number, p5?: number }
    failures: Array<Record<string, unknown>>
    /** Cores in use over the phase: by the node processes, and by the whole machine. */
    cores: { nodes: number, machine: number }
    /** Every retrieval, slowest first byte first, with where its time went (`timeline`) and the machine's busy share. */
    samples: Array<Record<string, unknown>>
  }
  churn?: {
    pct: number
    intervalMs: number
    durationS: number
    checkIntervalMs: number
    /**
     * Each round: the nodes killed, the contents it killed every live holder of (with how many there were),
     * the survivors that did not say what they held (then nothing is counted lost), how long the fresh nodes took to start.
     */
    rounds: Array<{ killed: string[], lost: Array<{ cid: string, holders: number }>, unanswered: number, rejoinMs: number }>
    /**
     * The probes. `proberKilled`: ended by their own node's kill; `contentGone`: of content in `gone`;
     * `successRateLiveProbers` leaves out the first, `successRateExisting` both.
     */
    probes: { sent: number, ok: number, proberKilled: number, contentGone: number, successRate?: number, successRateLiveProbers?: number, successRateExisting?: number, medianMs: number, failures: Array<Record<string, unknown>> }
    /** Contents a round took whole while at their factor (every holder killed at once): gone for good, left out of `afterChurn`. */
    gone: string[]
    beforeChurn: { ms?: number, holders: number[] }
    /** From the last round's kills until every content had `factor` live holders; undefined: not within 3 check intervals. */
    afterChurn: { ms?: number, holders: number[], checkIntervals?: number }
  }
  /** Nodes that failed to start once (each got a second try with other bootstrap peers). */
  startFailures: Array<{ node: string, bootstrap: string[], error: string }>
  /** The announcing scenario; `error` alone when it failed part-way. */
  announce?: {
    error?: string
    node: string
    single: AnnounceRun
    sweep: AnnounceRun
    /** The sweep's rate over the one-by-one rate. */
    speedup: number
    /** Lookups by three other nodes of 10 records of each set: how many named the announcer. */
    found: { single: number, sweep: number, looked: number }
    /** The whole re-announcement cycle at once while the announcer serves 16 MiB retrievals. */
    reannounce: {
      /** `cpuMs`: the announcer process's (its serving included); `machineBusy`: the share of the machine's CPU busy meanwhile. */
      cycle: { records: number, reached: number, ms: number, cpuMs: number, machineBusy: number }
      contentBytes: number
      /** The first retrieval, not counted (a cold start). */
      warmUpMibs?: number
      beforeMibs: number[]
      duringMibs: number[]
      afterMibs: number[]
      medianMibs: { without?: number, during?: number }
      /** Median during over the median of before and after. */
      ratio?: number
      /** Retrievals that failed: warm-up, before, during or after the cycle. */
      failures: Array<{ when: string, error: string }>
    }
  }
  teardownMs: number
  totalMs: number
}

/** One way of announcing in the announcing scenario. */
export interface AnnounceRun {
  ms: number
  cpuMs: number
  /** Records that reached at least one DHT peer. */
  reached: number
  peers: { min: number, median: number }
  /** Records per second. */
  perS: number
}

/** Runs a network of many DDS nodes and its scenarios (doc/TESTBED.md); tears it down before it settles. */
export function runScale (opts: ScaleOptions, hooks?: { onProgress?: (text: string) => void, seed?: number, onStart?: (result: Partial<ScaleResult>) => void }): Promise<ScaleResult>
export const SCALE_DEFAULTS: Readonly<Omit<ScaleOptions, 'nodes'>>
/** Flags of `npm run testbed -- --nodes N ...` to ScaleOptions (and `seed`); undefined without --nodes; TypeError on bad input. */
export function parseScaleArgs (argv: string[]): (ScaleOptions & { seed?: number }) | undefined
