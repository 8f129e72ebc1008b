/**
 * Runs the built `dds` executable (dist/cli/bin.js) as a user would: daemons
 * as child processes in temp repos, commands with their stdout, stderr and
 * exit code. `npm test` builds first (pretest).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const bin = join(root, 'dist', 'cli', 'bin.js')

export interface Result {
  code: number | null
  stdout: string
  stderr: string
  /** stdout as bytes (for `dds get` to stdout). */
  bytes: Buffer
}

/** Env for children with no DDS_* variable from the caller leaking in. */
export function cleanEnv (extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('DDS_')) {
      env[key] = value
    }
  }
  return { ...env, ...extra }
}

/** Runs `dds ...args` to its end. */
export async function dds (args: string[], options: { env?: Record<string, string>, input?: Buffer | string } = {}): Promise<Result> {
  const child = spawn(process.execPath, [bin, ...args], { cwd: root, env: cleanEnv(options.env), stdio: ['pipe', 'pipe', 'pipe'] })
  const out: Buffer[] = []
  const err: Buffer[] = []
  child.stdout.on('data', (b: Buffer) => out.push(b))
  child.stderr.on('data', (b: Buffer) => err.push(b))
  child.stdin.end(options.input)
  const [code] = await once(child, 'close') as [number | null]
  const bytes = Buffer.concat(out)
  return { code, stdout: bytes.toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), bytes }
}

export interface Daemon {
  repo: string
  process: ChildProcess
  /** The gateway URL the daemon printed. */
  gateway: string
  peer: string
  addrs: string[]
  stderr: () => string
  /** SIGTERM, then SIGKILL if it has not exited after a while; resolves to the exit code. */
  stop: () => Promise<number | null>
}

/** A fresh temp directory; `cleanup` removes every one made. */
const dirs: string[] = []
export async function tempDir (): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dds-cli-'))
  dirs.push(dir)
  return dir
}
export async function cleanup (): Promise<void> {
  await Promise.all(dirs.splice(0).map(async dir => rm(dir, { recursive: true, force: true })))
}

/**
 * Starts `dds daemon --json` on loopback with a free libp2p port and a free
 * gateway port, and waits for the line it prints once ready.
 */
export async function startDaemon (repo: string, extra: string[] = []): Promise<Daemon> {
  const child = spawn(process.execPath, [
    bin, 'daemon', '--repo', repo, '--listen', '/ip4/127.0.0.1/tcp/0', '--gateway', '127.0.0.1:0',
    '--replication-factor', '1', '--json', ...extra
  ], { cwd: root, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
  const info = await new Promise<{ peer: string, addrs: string[], gateway: string }>((resolve, reject) => {
    let stdout = ''
    const onData = (b: Buffer): void => {
      stdout += b.toString()
      const line = stdout.split('\n').find(l => l.startsWith('{'))
      if (line != null) {
        child.stdout.off('data', onData)
        resolve(JSON.parse(line))
      }
    }
    child.stdout.on('data', onData)
    child.once('exit', (code) => { reject(new Error(`daemon exited with ${code} before it was ready: ${stderr}`)) })
  })
  child.stdout.resume()
  const exited = once(child, 'exit').then(([code]) => code as number | null)
  return {
    repo,
    process: child,
    ...info,
    stderr: () => stderr,
    stop: async () => {
      if (child.exitCode == null && child.signalCode == null) {
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
        const code = await exited
        clearTimeout(timer)
        return code
      }
      return exited
    }
  }
}
