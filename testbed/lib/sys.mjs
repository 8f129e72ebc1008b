// Running the system tools the testbed is made of (`ip`, `tc`, `iptables`,
// python3), naming its namespaces, and removing what a run leaves behind.
import { execFileSync, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'

/** Every namespace of a run is named `ddt<pid>-...`: a dead pid marks it stale. */
export const NS_PREFIX = 'ddt'
const STALE = /^ddt(\d+)-\S*/

/** Default time one system command may take before it is killed. */
export const COMMAND_TIMEOUT_MS = 30_000

/** The tools chosen by the availability probe (`iptables` or `iptables-legacy`, the python). */
export const tools = {
  iptables: 'iptables',
  python: pythonPath()
}

/** `DDS_TESTBED_PYTHON`, else Debian's python3 (a pyenv shim on PATH costs a second per start), else `python3`. */
function pythonPath () {
  if (process.env.DDS_TESTBED_PYTHON) {
    return process.env.DDS_TESTBED_PYTHON
  }
  return existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3'
}

/**
 * Runs `cmd args` and resolves with its output; rejects with the command,
 * its exit code and stderr in the message when it fails.
 *
 * @param {string} cmd
 * @param {string[]} args
 * @param {{ input?: string, timeoutMs?: number }} [opts]
 * @returns {Promise<{ stdout: string, stderr: string }>}
 */
export function run (cmd, args, { input, timeoutMs = COMMAND_TIMEOUT_MS } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: [input == null ? 'ignore' : 'pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (s) => { stdout += s })
    child.stderr.setEncoding('utf8').on('data', (s) => { stderr += s })
    const timer = setTimeout(() => { child.kill('SIGKILL') }, timeoutMs)
    child.on('error', (err) => {
      clearTimeout(timer)
      const missing = err.code === 'ENOENT' ? ' (not installed?)' : ''
      reject(Object.assign(new Error(`${cmd}: ${err.message}${missing}`), { code: err.code }))
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      if (code === 0) {
        resolve({ stdout, stderr })
        return
      }
      const why = signal != null ? `was killed by ${signal}` : `exited with ${code}`
      reject(Object.assign(new Error(`\`${cmd} ${args.join(' ')}\` ${why}: ${stderr.trim() || stdout.trim()}`), { stdout, stderr, exitCode: code }))
    })
    if (input != null) {
      child.stdin.end(input)
    }
  })
}

/** `ip args` */
export function ip (...args) {
  return run('ip', args)
}

/** Several `ip` commands (one per line, without `ip`) in one `ip -batch` inside `ns`. */
export function ipBatch (ns, commands) {
  return run('ip', ['-n', ns, '-batch', '-'], { input: commands.join('\n') + '\n' })
}

/** `cmd args` inside namespace `ns`. */
export function inNs (ns, cmd, args, opts) {
  return run('ip', ['netns', 'exec', ns, cmd, ...args], opts)
}

/**
 * Sets sysctls inside `ns` (`{ 'net/ipv4/ip_forward': 1 }`, keys missing on
 * this kernel skipped) and brings its loopback up; one shell, no procps needed.
 */
export function sysctl (ns, values) {
  const script = Object.entries(values)
    .map(([key, value]) => `if [ -e /proc/sys/${key} ]; then echo ${value} > /proc/sys/${key}; fi`)
  return inNs(ns, 'sh', ['-ec', ['ip link set lo up', ...script].join('\n')])
}

/**
 * Feeds iptables commands (without the leading `iptables`) to one
 * `iptables-restore --noflush` inside `ns`, table by table.
 *
 * @param {string} ns
 * @param {Record<string, string[]>} tables  e.g. `{ nat: ['-A POSTROUTING -o wan -j MASQUERADE'] }`
 */
export function iptables (ns, tables) {
  let input = ''
  for (const [table, lines] of Object.entries(tables)) {
    if (lines.length > 0) {
      input += `*${table}\n${lines.join('\n')}\nCOMMIT\n`
    }
  }
  if (input === '') {
    return Promise.resolve()
  }
  // one at a time per namespace: concurrent nft transactions may be refused
  const previous = iptablesQueue.get(ns) ?? Promise.resolve()
  const next = previous.catch(() => {}).then(() => inNs(ns, `${tools.iptables}-restore`, ['-w', '--noflush'], { input }))
  iptablesQueue.set(ns, next)
  next.finally(() => { if (iptablesQueue.get(ns) === next) iptablesQueue.delete(ns) }).catch(() => {})
  return next
}

const iptablesQueue = new Map()

/** Whether a process with this pid exists. */
export function isAlive (pid) {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return err.code === 'EPERM'
  }
}

/** The names of the existing namespaces. */
export async function listNamespaces () {
  const { stdout } = await ip('netns', 'list').catch(() => ({ stdout: '' }))
  return parseNamespaces(stdout)
}

function parseNamespaces (text) {
  return text.split('\n').map(line => line.split(' ')[0]).filter(name => name !== '')
}

/** SIGKILLs every process inside `ns` (spawned programs, delayers), then deletes it. */
export async function removeNamespace (ns) {
  const { stdout } = await ip('netns', 'pids', ns).catch(() => ({ stdout: '' }))
  for (const pid of stdout.split('\n').map(Number).filter(n => n > 0)) {
    try { process.kill(pid, 'SIGKILL') } catch {}
  }
  await ip('netns', 'del', ns).catch(() => {})
}

/** The same, synchronously, for a process that is exiting. */
export function removeNamespaceSync (ns) {
  try {
    const pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
    for (const pid of pids.split('\n').map(Number).filter(n => n > 0)) {
      try { process.kill(pid, 'SIGKILL') } catch {}
    }
  } catch {}
  try { execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' }) } catch {}
}

/**
 * Removes the namespaces (and the processes in them) of earlier runs whose
 * process is gone. Resolves with the names it removed.
 */
export async function removeStale () {
  const removed = []
  for (const ns of await listNamespaces()) {
    const m = STALE.exec(ns)
    if (m == null || Number(m[1]) === process.pid || isAlive(Number(m[1]))) {
      continue
    }
    await removeNamespace(ns)
    removed.push(ns)
  }
  return removed
}
