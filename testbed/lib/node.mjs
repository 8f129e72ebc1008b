// A namespace of the testbed seen from a test: run programs in it, ping
// from it, read its interface counters.
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { ip } from './sys.mjs'

/** Default limit on a program run with `exec`. */
export const EXEC_TIMEOUT_MS = 60_000

/** How long `stopProcess` waits after SIGTERM before SIGKILL. */
export const KILL_GRACE_MS = 3_000

/**
 * One namespace: the internet's core, a NAT router or a host. Made by the
 * testbed, never directly.
 */
export class Node {
  /**
   * @param {object} init
   * @param {string} init.name
   * @param {'internet' | 'public' | 'nat' | 'private'} init.role
   * @param {string} init.ns
   * @param {string} init.address     its own address (a router's: the outside one)
   * @param {Set<import('node:child_process').ChildProcess>} init.processes  the testbed's, killed at teardown
   */
  constructor ({ name, role, ns, address, processes }) {
    this.name = name
    this.role = role
    this.ns = ns
    this.address = address
    /** Where this node's traffic appears to come from on the internet. */
    this.publicAddress = role === 'private' ? undefined : address
    /** @type {import('./link.mjs').Link | undefined} */
    this.link = undefined
    this.processes = processes
  }

  /**
   * Starts `cmd args` inside this namespace (`ip netns exec`), in its own
   * process group; the testbed kills it at teardown if it still runs.
   *
   * @param {string} cmd
   * @param {string[]} [args]
   * @param {import('node:child_process').SpawnOptions} [opts]
   */
  spawn (cmd, args = [], opts = {}) {
    const child = spawn('ip', ['netns', 'exec', this.ns, cmd, ...args], { ...opts, detached: true })
    this.processes.add(child)
    child.once('exit', () => { this.processes.delete(child) })
    return child
  }

  /** `spawn` of a node script with the Node binary that runs the testbed. */
  spawnNode (script, args = [], opts = {}) {
    return this.spawn(process.execPath, [script, ...args], opts)
  }

  /**
   * Runs `cmd args` inside this namespace to the end. Rejects on a non-zero
   * exit unless `allowFailure`, and kills it after `timeoutMs`.
   *
   * @param {string} cmd
   * @param {string[]} [args]
   * @param {{ timeoutMs?: number, allowFailure?: boolean, input?: string, env?: NodeJS.ProcessEnv, cwd?: string }} [opts]
   * @returns {Promise<{ code: number | null, signal: string | null, stdout: string, stderr: string }>}
   */
  exec (cmd, args = [], { timeoutMs = EXEC_TIMEOUT_MS, allowFailure = false, input, env, cwd } = {}) {
    return new Promise((resolve, reject) => {
      const child = this.spawn(cmd, args, { env, cwd, stdio: [input == null ? 'ignore' : 'pipe', 'pipe', 'pipe'] })
      let stdout = ''
      let stderr = ''
      child.stdout.setEncoding('utf8').on('data', (s) => { stdout += s })
      child.stderr.setEncoding('utf8').on('data', (s) => { stderr += s })
      let timedOut = false
      const timer = setTimeout(() => {
        timedOut = true
        killGroup(child, 'SIGKILL')
      }, timeoutMs)
      child.on('error', (err) => { clearTimeout(timer); reject(err) })
      child.on('close', (code, signal) => {
        clearTimeout(timer)
        const result = { code, signal, stdout, stderr }
        if (timedOut) {
          reject(Object.assign(new Error(`${this.name}: \`${cmd} ${args.join(' ')}\` ran longer than ${timeoutMs} ms`), result))
        } else if (code !== 0 && !allowFailure) {
          reject(Object.assign(new Error(`${this.name}: \`${cmd} ${args.join(' ')}\` exited with ${signal ?? code}: ${stderr.trim() || stdout.trim()}`), result))
        } else {
          resolve(result)
        }
      })
      if (input != null) {
        child.stdin.end(input)
      }
    })
  }

  /** `exec` of a node script with the Node binary that runs the testbed. */
  execNode (script, args = [], opts = {}) {
    return this.exec(process.execPath, [script, ...args], opts)
  }

  /**
   * Pings `target` (an address, or a node: its `address`) from here and
   * returns the counts and RTTs that ping printed. Lost replies are a
   * result, not an error.
   *
   * @param {string | Node} target
   * @param {{ count?: number, intervalMs?: number, waitMs?: number }} [opts]
   */
  async ping (target, { count = 10, intervalMs = 200, waitMs = 2_000 } = {}) {
    const address = typeof target === 'string' ? target : target.address
    // no -w: with a deadline, ping sends until `count` replies came, not `count` requests
    const { code, stdout, stderr } = await this.exec('ping', ['-n', '-q', '-c', String(count), '-i', String(intervalMs / 1000),
      '-W', String(waitMs / 1000), address], { allowFailure: true, timeoutMs: count * intervalMs + waitMs + 30_000 })
    const counts = /(\d+) packets transmitted, (\d+) received/.exec(stdout)
    if (counts == null || code === 2) {
      throw new Error(`${this.name}: ping ${address} failed (${code}): ${stderr.trim() || stdout.trim()}`)
    }
    const rtt = /= ([\d.]+)\/([\d.]+)\/([\d.]+)\/([\d.]+) ms/.exec(stdout)
    const sent = Number(counts[1])
    const received = Number(counts[2])
    return {
      address,
      sent,
      received,
      loss: sent === 0 ? 0 : 1 - received / sent,
      rttMs: rtt == null ? undefined : { min: Number(rtt[1]), avg: Number(rtt[2]), max: Number(rtt[3]), mdev: Number(rtt[4]) }
    }
  }

  /**
   * Bytes received and sent by each interface of this namespace (loopback
   * left out), and their sums.
   *
   * @returns {Promise<{ rx: number, tx: number, interfaces: Record<string, { rx: number, tx: number }> }>}
   */
  async bytes () {
    const { stdout } = await ip('-n', this.ns, '-s', '-j', 'link', 'show')
    const interfaces = {}
    let rx = 0
    let tx = 0
    for (const link of JSON.parse(stdout)) {
      if (link.ifname === 'lo') {
        continue
      }
      const stats = link.stats64 ?? link.stats
      interfaces[link.ifname] = { rx: stats.rx.bytes, tx: stats.tx.bytes }
      rx += stats.rx.bytes
      tx += stats.tx.bytes
    }
    return { rx, tx, interfaces }
  }

  /** Changes this node's link (rate, loss, delay); see createTestbed's link options. */
  async setLink (spec) {
    if (this.link == null) {
      throw new Error(`${this.name} has no link of its own`)
    }
    await this.link.apply(spec)
  }
}

/** Signals a spawned program's whole process group (it was started detached). */
export function killGroup (child, signal) {
  if (child.pid == null) {
    return
  }
  try {
    process.kill(-child.pid, signal)
  } catch {
    try { child.kill(signal) } catch {}
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the program has exited. */
export async function stopProcess (child, graceMs = KILL_GRACE_MS) {
  if (child.exitCode != null || child.signalCode != null) {
    return
  }
  const exited = new Promise(resolve => child.once('exit', resolve))
  killGroup(child, 'SIGTERM')
  const timer = setTimeout(() => { killGroup(child, 'SIGKILL') }, graceMs)
  await exited
  clearTimeout(timer)
}

const readers = new WeakMap()

/** The stdout lines of `child` so far, read once however many waits look at them. */
function reader (child) {
  let r = readers.get(child)
  if (r == null) {
    r = { lines: [], cursor: 0, wake: new Set() }
    readers.set(child, r)
    const rl = createInterface({ input: child.stdout })
    rl.on('line', (line) => {
      r.lines.push(line)
      for (const wake of [...r.wake]) wake()
    })
  }
  return r
}

/**
 * Resolves with the next stdout line of `child` that `match` accepts (a
 * RegExp or a predicate), lines already printed included; lines before the
 * one found are passed over for later waits too. Rejects if the program
 * exits first or after `timeoutMs`.
 *
 * @param {import('node:child_process').ChildProcess} child
 * @param {RegExp | ((line: string) => boolean)} match
 * @param {{ timeoutMs?: number }} [opts]
 * @returns {Promise<string>}
 */
export function waitForLine (child, match, { timeoutMs = 30_000 } = {}) {
  const accepts = typeof match === 'function' ? match : (line) => match.test(line)
  if (child.stdout == null) {
    return Promise.reject(new Error('waitForLine needs a child spawned with stdout piped'))
  }
  const r = reader(child)
  return new Promise((resolve, reject) => {
    const seen = () => r.lines.slice(-5).join(' | ')
    const timer = setTimeout(() => finish(new Error(`no line matching ${match} within ${timeoutMs} ms; last lines: ${seen()}`)), timeoutMs)
    const onExit = (code, signal) => {
      // lines still in the pipe arrive before 'close'
      const last = () => {
        if (!scan()) {
          finish(new Error(`the program exited (${signal ?? code}) before a line matching ${match}; last lines: ${seen()}`))
        }
      }
      if (child.stdout.closed) {
        last()
      } else {
        child.stdout.once('close', last)
      }
    }
    function finish (err, line) {
      clearTimeout(timer)
      r.wake.delete(scan)
      child.removeListener('exit', onExit)
      if (err != null) {
        reject(err)
      } else {
        resolve(line)
      }
    }
    function scan () {
      while (r.cursor < r.lines.length) {
        const line = r.lines[r.cursor++]
        if (accepts(line)) {
          finish(undefined, line)
          return true
        }
      }
      return false
    }
    r.wake.add(scan)
    if (scan()) {
      return
    }
    if (child.exitCode != null || child.signalCode != null) {
      onExit(child.exitCode, child.signalCode)
    } else {
      child.once('exit', onExit)
    }
  })
}
