/**
 * Drives a node run as a child process (the SIGKILL suites): the child
 * prints one `<tag> <json>` line per event on stdout; the test waits for
 * lines (never for a fixed time), kills the child with SIGKILL at the point
 * it chose, and reads every line the child wrote before it died.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'

/** The repository root: children import the built package from dist/. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url))

/** How long a child may take to reach a point the test waits for, on a loaded machine. */
export const CHILD_WAIT_MS = 120_000

/** One line of the child's stdout. */
export interface Line { tag: string, detail: any }

export interface Exit { code: number | null, signal: NodeJS.Signals | null }

/** Children are plain node scripts that import the built package: fail clearly when it is missing. */
export function assertBuilt (): void {
  if (!existsSync(join(ROOT, 'dist/index.js'))) {
    throw new Error('dist/index.js is missing: run `npm run build` first (`npm test` does). These tests run a child process that imports the built package, since plain node cannot load the .ts sources.')
  }
}

/** A running child script: its stdout as parsed lines, its stderr, its exit. */
export class ChildRun {
  readonly child: ChildProcess
  readonly lines: Line[] = []
  readonly exited: Promise<Exit>
  stderr = ''
  private readonly listeners = new Set<() => void>()
  private done = false

  constructor (script: string, args: string[]) {
    this.child = spawn(process.execPath, [script, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    this.child.stderr!.setEncoding('utf8')
    this.child.stderr!.on('data', (text: string) => { this.stderr += text })
    const reader = createInterface({ input: this.child.stdout! })
    reader.on('line', (text) => {
      const space = text.indexOf(' ')
      const tag = space < 0 ? text : text.slice(0, space)
      let detail: any = {}
      try { detail = space < 0 ? {} : JSON.parse(text.slice(space + 1)) } catch { detail = { raw: text } }
      this.lines.push({ tag, detail })
      this.notify()
    })
    const stdoutClosed = new Promise<void>(resolve => { reader.on('close', resolve) })
    this.exited = new Promise((resolve) => {
      // a child that could not be spawned emits 'error' and no 'exit'
      this.child.on('error', (err) => {
        if (this.child.pid == null) {
          this.stderr += `could not start the child: ${err.message}\n`
          this.finish(resolve, { code: null, signal: null })
        }
      })
      this.child.on('exit', (code, signal) => {
        // every line the child wrote before it died is read before `exited` resolves
        void stdoutClosed.then(() => { this.finish(resolve, { code, signal }) })
      })
    })
  }

  get running (): boolean {
    return this.child.exitCode == null && this.child.signalCode == null
  }

  /** Resolves with the first line (seen so far or later) that matches; rejects if the child exits first or on timeout. */
  async waitFor (what: string, match: (line: Line) => boolean, timeoutMs = CHILD_WAIT_MS): Promise<Line> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = this.lines.find(match)
        if (found != null) {
          finish()
          resolve(found)
          return true
        }
        if (this.done) {
          finish()
          reject(new Error(`the child exited before ${what} (exit code ${String(this.child.exitCode)}, signal ${String(this.child.signalCode)}); stderr:\n${this.stderr}\nlast lines: ${this.tail()}`))
          return true
        }
        return false
      }
      const timer = setTimeout(() => {
        finish()
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; stderr:\n${this.stderr}\nlast lines: ${this.tail()}`))
      }, timeoutMs)
      const finish = (): void => {
        clearTimeout(timer)
        this.listeners.delete(listener)
      }
      const listener = (): void => { check() }
      if (!check()) {
        this.listeners.add(listener)
      }
    })
  }

  /** SIGKILL, then wait until the process is gone and its output read. */
  async kill (): Promise<Exit> {
    if (this.running) {
      this.child.kill('SIGKILL')
    }
    return this.exited
  }

  has (tag: string, match: (detail: any) => boolean = () => true): boolean {
    return this.lines.some(l => l.tag === tag && match(l.detail))
  }

  tail (): string {
    return this.lines.slice(-5).map(l => `${l.tag} ${JSON.stringify(l.detail)}`).join(' | ')
  }

  private finish (resolve: (exit: Exit) => void, exit: Exit): void {
    this.done = true
    this.notify()
    resolve(exit)
  }

  private notify (): void {
    for (const listener of [...this.listeners]) {
      listener()
    }
  }
}

/** The children of one suite; `killAll()` in afterEach. */
export class Children {
  private readonly runs: ChildRun[] = []

  start (script: string, args: string[]): ChildRun {
    const run = new ChildRun(script, args)
    this.runs.push(run)
    return run
  }

  async killAll (): Promise<void> {
    await Promise.all(this.runs.splice(0).map(async c => c.kill()))
  }
}
