// The link between a node and the network above it (the internet, or its
// NAT router's LAN): a veth pair whose rate, loss and delay can be set.
//
//   child namespace            parent namespace (internet or router)
//   [eth0 or wan] ===== veth ===== [v-<name>] --- routed onwards
//
// - rate: a tc token bucket (tbf) on the egress of both ends, so upload and
//   download are each limited to the rate;
// - loss: iptables `statistic --mode random` DROP rules, one for each
//   direction, so each direction loses that fraction of its packets;
// - delay: an NFQUEUE rule for each direction and a delayer process
//   (delayer.py) that holds each packet `delayMs` before accepting it. With
//   `delayOn: 'up'` only the way up is queued, for 2 x `delayMs`: the round
//   trip over the link is the same, and between two hosts that both link so
//   each way takes what it took before (the sender's link holds it for both
//   links), while the delayer handles each packet once instead of twice.
//
// Loss and delay rules live in the parent namespace, which forwards the
// packets: traffic up from the child is taken in `raw PREROUTING -i v-<name>`
// (before conntrack, so a NAT router never sees two unconfirmed entries for
// one flow), traffic down to it in `mangle POSTROUTING -o v-<name>`. Held
// there, the delay lies before the receiving host's kernel stamps the packet,
// so ping's RTT (taken from that stamp) includes it.
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { inNs, iptables, tools } from './sys.mjs'

/** The delayer program, run inside a parent namespace. */
export const DELAYER = fileURLToPath(new URL('../delayer.py', import.meta.url))

/** How long a delayer may take to bind its queue. */
export const DELAYER_START_MS = 15_000

/** The tbf queue holds at most this much of the rate's worth of packets before it drops. */
export const QUEUE_LATENCY_MS = 100

/** The token bucket's burst: the larger of this and 10 ms of the rate. */
export const MIN_BURST_BYTES = 16 * 1024

const UNITS = { bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9 }

/**
 * Bits per second of a tc-style rate: '500kbit', '20mbit', '1gbit', '64000bit'.
 *
 * @param {string} rate
 */
export function parseRate (rate) {
  const m = /^(\d+(?:\.\d+)?)(bit|kbit|mbit|gbit)$/.exec(String(rate))
  if (m == null || Number(m[1]) <= 0) {
    throw new TypeError(`link rate must look like '20mbit' (bit, kbit, mbit or gbit), not ${JSON.stringify(rate)}`)
  }
  return Number(m[1]) * UNITS[m[2]]
}

/** The tbf burst in bytes for a rate in bits per second (see MIN_BURST_BYTES). */
export function burstBytes (bitsPerSecond) {
  return Math.max(MIN_BURST_BYTES, Math.ceil(bitsPerSecond / 8 / 100))
}

/**
 * Checks a link spec and returns it with defaults: no rate limit, no loss,
 * no delay, a delay held on both ways.
 *
 * @param {{ rate?: string, delayMs?: number, loss?: number, delayOn?: 'both' | 'up' }} [spec]
 */
export function normalizeLink (spec = {}) {
  const { rate, delayMs = 0, loss = 0, delayOn = 'both', ...rest } = spec
  const unknown = Object.keys(rest)
  if (unknown.length > 0) {
    throw new TypeError(`unknown link option ${unknown.join(', ')} (rate, delayMs, loss, delayOn)`)
  }
  if (delayOn !== 'both' && delayOn !== 'up') {
    throw new TypeError(`link delayOn must be 'both' or 'up', not ${JSON.stringify(delayOn)}`)
  }
  if (rate != null) {
    parseRate(rate)
  }
  if (!Number.isFinite(delayMs) || delayMs < 0 || delayMs > 60_000) {
    throw new TypeError(`link delayMs must be a number of milliseconds in [0, 60000], not ${delayMs}`)
  }
  if (!Number.isFinite(loss) || loss < 0 || loss > 1) {
    throw new TypeError(`link loss must be a fraction in [0, 1], not ${loss}`)
  }
  return { rate, delayMs, loss, delayOn }
}

/**
 * One node's link. `create()` makes the veth pair; `apply(spec)` sets rate,
 * loss and delay, and may be called again to change them; `stop()` ends the
 * delayer.
 */
export class Link {
  /**
   * @param {object} init
   * @param {string} init.name       the node's name (names the parent-side device and chains)
   * @param {string} init.childNs
   * @param {string} init.childDev   'eth0' for a host, 'wan' for a router
   * @param {string} init.parentNs
   * @param {number} init.queue      NFQUEUE number, unique in the parent namespace
   */
  constructor ({ name, childNs, childDev, parentNs, queue }) {
    this.name = name
    this.childNs = childNs
    this.childDev = childDev
    this.parentNs = parentNs
    this.parentDev = `v-${name}`
    this.queue = queue
    this.up = `up-${name}`
    this.down = `dn-${name}`
    /** @type {{ rate?: string, delayMs: number, loss: number, delayOn: 'both' | 'up' }} */
    this.spec = normalizeLink()
    /** @type {import('node:child_process').ChildProcess | undefined} */
    this.delayer = undefined
    this.chains = false
  }

  /** Makes the veth pair (the child end `childDev` in the child, `v-<name>` in the parent). */
  async create () {
    await inNs(this.childNs, 'ip', ['link', 'add', this.childDev, 'type', 'veth', 'peer', 'name', this.parentDev, 'netns', this.parentNs])
  }

  /**
   * Sets rate, loss and delay (a missing field: none). When the delay
   * changes, the packets the old delayer held are lost.
   *
   * @param {{ rate?: string, delayMs?: number, loss?: number, delayOn?: 'both' | 'up' }} [spec]
   */
  async apply (spec) {
    const next = normalizeLink(spec)
    const first = !this.chains
    const redelay = next.delayMs !== this.spec.delayMs || next.delayOn !== this.spec.delayOn || (next.delayMs > 0 && this.delayer == null)
    if (redelay && this.delayer != null) {
      // no rule may queue to a queue nobody reads
      await this.#rules([], [])
      await this.stop()
    }
    await Promise.all([
      this.#shape(this.childNs, this.childDev, next.rate, first),
      this.#shape(this.parentNs, this.parentDev, next.rate, first),
      (async () => {
        if (redelay && next.delayMs > 0) {
          this.delayer = await startDelayer(this.parentNs, this.queue, next.delayOn === 'up' ? 2 * next.delayMs : next.delayMs, this.name)
        }
      })()
    ])
    const drop = next.loss > 0 ? [`-m statistic --mode random --probability ${next.loss} -j DROP`] : []
    const queue = next.delayMs > 0 ? [`-j NFQUEUE --queue-num ${this.queue}`] : []
    await this.#rules([...drop, ...queue], next.delayOn === 'up' ? drop : [...drop, ...queue])
    this.spec = next
  }

  /** Replaces the rules of the way up's chain and the way down's (made on first use). */
  async #rules (up, down) {
    const create = !this.chains
    await iptables(this.parentNs, {
      raw: [
        ...(create ? [`-N ${this.up}`, `-A PREROUTING -i ${this.parentDev} -j ${this.up}`] : [`-F ${this.up}`]),
        ...up.map(rule => `-A ${this.up} ${rule}`)
      ],
      mangle: [
        ...(create ? [`-N ${this.down}`, `-A POSTROUTING -o ${this.parentDev} -j ${this.down}`] : [`-F ${this.down}`]),
        ...down.map(rule => `-A ${this.down} ${rule}`)
      ]
    })
    this.chains = true
  }

  async #shape (ns, dev, rate, first) {
    if (rate == null) {
      if (!first) {
        await inNs(ns, 'tc', ['qdisc', 'del', 'dev', dev, 'root']).catch(() => {})
      }
      return
    }
    const bits = parseRate(rate)
    await inNs(ns, 'tc', ['qdisc', 'replace', 'dev', dev, 'root', 'tbf', 'rate', `${bits}bit`,
      'burst', String(burstBytes(bits)), 'latency', `${QUEUE_LATENCY_MS}ms`])
  }

  /** Ends this link's delayer, if it has one. */
  async stop () {
    const delayer = this.delayer
    this.delayer = undefined
    if (delayer == null || delayer.exitCode != null || delayer.signalCode != null) {
      return
    }
    delayer.expectedExit = true
    const exited = new Promise(resolve => delayer.once('exit', resolve))
    delayer.kill('SIGKILL')
    await exited
  }
}

/**
 * Starts delayer.py in `ns` on `queue` and resolves once it has bound the
 * queue. An unexpected exit later is reported on stderr, since the link then
 * drops every packet its rules queue.
 */
export async function startDelayer (ns, queue, delayMs, label = `queue ${queue}`) {
  const child = spawn('ip', ['netns', 'exec', ns, tools.python, DELAYER, String(queue), String(delayMs)], {
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (s) => { stderr += s })
  const lines = createInterface({ input: child.stdout })
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => { fail(new Error(`the delayer for ${label} did not bind its queue within ${DELAYER_START_MS} ms`)) }, DELAYER_START_MS)
    function fail (err) {
      clearTimeout(timer)
      child.kill('SIGKILL')
      reject(err)
    }
    child.once('error', fail)
    child.once('exit', (code, signal) => {
      fail(new Error(`the delayer for ${label} exited (${signal ?? code}) before it was ready: ${stderr.trim()}`))
    })
    lines.once('line', (line) => {
      if (line.trim() === 'ready') {
        clearTimeout(timer)
        child.removeAllListeners('exit')
        resolve(undefined)
      }
    })
  })
  child.once('exit', (code, signal) => {
    if (child.expectedExit !== true) {
      process.stderr.write(`testbed: the delayer for ${label} exited (${signal ?? code}); its link now drops what it should delay. ${stderr.trim()}\n`)
    }
  })
  return child
}
