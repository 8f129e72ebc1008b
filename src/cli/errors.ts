/**
 * Errors of the `dds` command line. Each ends the process with one line on
 * stderr (`dds: <message>`) and its exit code.
 *
 * @module
 */

/** Exit code of a command that failed. */
export const EXIT_FAILURE = 1

/** Exit code of a command given bad arguments or options. */
export const EXIT_USAGE = 2

/** A failure the user can act on; its message is printed as is. */
export class CliError extends Error {
  static override name = 'CliError'
  override name = 'CliError'
  readonly exitCode: number

  constructor (message: string, options?: ErrorOptions & { exitCode?: number }) {
    super(message, options)
    this.exitCode = options?.exitCode ?? EXIT_FAILURE
  }
}

/** Bad arguments, options, environment variables or config values. */
export class UsageError extends CliError {
  static override name = 'UsageError'
  override name = 'UsageError'

  constructor (message: string, options?: ErrorOptions) {
    super(message, { ...options, exitCode: EXIT_USAGE })
  }
}

/**
 * An error the daemon answered with; `status` is its HTTP status. A 400 is
 * the daemon refusing a malformed input (a CID, a peer id, a name), which
 * exits as bad usage, whichever side found it.
 */
export class DaemonError extends CliError {
  static override name = 'DaemonError'
  override name = 'DaemonError'
  readonly status: number

  constructor (message: string, status: number, options?: ErrorOptions) {
    super(message, { ...options, exitCode: status === 400 ? EXIT_USAGE : EXIT_FAILURE })
    this.status = status
  }
}

/** The `code` of a Node.js system error (`ENOENT`, `EADDRINUSE` ...), looking through `cause`s. */
export function systemErrorCode (err: unknown): string | undefined {
  for (let e = err, depth = 0; e != null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) {
      return code
    }
  }
  return undefined
}

/** One line for the terminal: control characters and newlines become spaces. */
export function oneLine (text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim()
}
