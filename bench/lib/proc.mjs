// The orchestrator's side of the roles: starts each role as its own OS
// process (child_process.fork, optionally inside a network namespace), sends
// it requests, and makes sure every process it started is gone at the end,
// whatever happened.
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const ROLES = new URL('../roles/', import.meta.url)
const LOG_LINES = 40
const STOP_GRACE_MS = 15_000
const live = new Set()

/** Settings for every role process, set once by the orchestrator. */
const defaults = { cpuProfDir: null, verbose: false }

/**
 * `cpuProfDir`: write a V8 CPU profile of each role process there, named by
 * its label. `verbose`: echo the roles' output.
 */
export function configureRoles ({ cpuProfDir = null, verbose = false }) {
  defaults.cpuProfDir = cpuProfDir
  defaults.verbose = verbose
}

/** One running role process. */
export class RoleProcess {
  constructor (label, child) {
    this.label = label
    this.child = child
    this.info = null
    this.exited = false
    this.exitCode = null
    this.pending = new Map()
    this.nextId = 1
    this.log = []
    this.exitPromise = new Promise(resolve => child.once('exit', (code, signal) => {
      this.exited = true
      this.exitCode = code ?? signal
      live.delete(this)
      for (const { reject } of this.pending.values()) {
        reject(this.failure(`exited (${this.exitCode}) while busy`))
      }
      this.pending.clear()
      resolve()
    }))
    child.on('message', (msg) => {
      const entry = this.pending.get(msg?.id)
      if (entry == null) {
        return
      }
      this.pending.delete(msg.id)
      if (msg.ok) {
        entry.resolve(msg.result)
      } else {
        entry.reject(this.failure(`${entry.op} failed: ${msg.error.message}`, msg.error.stack))
      }
    })
    for (const stream of [child.stdout, child.stderr]) {
      stream?.setEncoding('utf8')
      stream?.on('data', (text) => this.record(text))
    }
  }

  record (text) {
    for (const line of text.split('\n').filter(Boolean)) {
      if (/Unknown user config|ExperimentalWarning|--trace-warnings/.test(line)) {
        continue
      }
      this.log.push(line)
      if (this.log.length > LOG_LINES) {
        this.log.shift()
      }
      if (defaults.verbose) {
        console.error(`  [${this.label}] ${line}`)
      }
    }
  }

  failure (what, stack) {
    const tail = this.log.length > 0 ? `\n  last output of ${this.label}:\n    ${this.log.join('\n    ')}` : ''
    const err = new Error(`${this.label}: ${what}${tail}`)
    if (stack != null) {
      err.remoteStack = stack
    }
    return err
  }

  /** Sends `op` with `args` and resolves with the role's result. */
  call (op, args = {}, timeoutMs = 10 * 60_000) {
    if (this.exited) {
      return Promise.reject(this.failure(`cannot ${op}: the process has exited (${this.exitCode})`))
    }
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id)
        reject(this.failure(`${op} timed out after ${timeoutMs} ms`))
      }, timeoutMs)
      const done = (fn) => (value) => { clearTimeout(timer); fn(value) }
      this.pending.set(id, { op, resolve: done(resolve), reject: done(reject) })
      this.child.send({ id, op, ...args })
    })
  }

  /** Asks the role to clean up and exit; kills it if it does not in time. */
  async stop () {
    if (this.exited) {
      return
    }
    await Promise.race([
      this.call('stop', {}, STOP_GRACE_MS).catch(() => {}),
      this.exitPromise
    ])
    const timer = setTimeout(() => this.kill(), STOP_GRACE_MS)
    await this.exitPromise
    clearTimeout(timer)
  }

  kill () {
    if (!this.exited) {
      try { this.child.kill('SIGKILL') } catch {}
    }
  }
}

/**
 * Starts `bench/roles/<role>.mjs` with `options` and waits until it is ready.
 * With `netns`, the process runs inside that network namespace.
 */
export async function startRole (role, options = {}, { label = role, netns, readyTimeoutMs = 5 * 60_000 } = {}) {
  const modulePath = fileURLToPath(new URL(`${role}.mjs`, ROLES))
  const nodeArgs = defaults.cpuProfDir == null
    ? []
    : ['--cpu-prof', `--cpu-prof-dir=${defaults.cpuProfDir}`, `--cpu-prof-name=${label}.cpuprofile`]
  const child = fork(modulePath, [JSON.stringify(options)], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    ...(netns != null
      ? { execPath: 'ip', execArgv: ['netns', 'exec', netns, process.execPath, ...nodeArgs] }
      : { execArgv: nodeArgs })
  })
  const proc = new RoleProcess(label, child)
  live.add(proc)
  try {
    proc.info = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(proc.failure(`not ready after ${readyTimeoutMs} ms`)), readyTimeoutMs)
      child.on('message', (msg) => {
        if (msg?.ready === true) {
          clearTimeout(timer)
          resolve(msg.info)
        }
      })
      proc.exitPromise.then(() => {
        clearTimeout(timer)
        reject(proc.failure(`exited (${proc.exitCode}) before it was ready`))
      })
      child.once('error', (err) => {
        clearTimeout(timer)
        reject(proc.failure(`could not start: ${err.message}`))
      })
    })
  } catch (err) {
    proc.kill()
    await proc.exitPromise
    throw err
  }
  return proc
}

/** Stops every role process still running (politely, then by force). */
export async function stopAll () {
  await Promise.all([...live].map(proc => proc.stop()))
}

/** Kills every role process still running, at once (for process exit). */
export function killAll () {
  for (const proc of live) {
    proc.kill()
  }
}
