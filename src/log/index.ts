/**
 * What a node logs, and how. Every part gets libp2p's `ComponentLogger`
 * through its components object, as libp2p's own services do, and logs
 * under a `dds:<part>` name: with no logger given, the libp2p node's (the
 * `debug` convention: `DEBUG=dds:*` prints DDS's lines, `DEBUG=libp2p:*`
 * libp2p's). `streamLogger()` is the one an operator wants: a line per
 * event at a level, as text or one JSON object per line; `dds daemon` uses
 * it.
 *
 * Events at `info`: a node starting and stopping, peers connecting and
 * leaving, content published and pinned, replicas accepted, refused and
 * stored, repairs, bans and gc. Nothing per chunk or per request is logged
 * above `debug`.
 *
 * @module
 */

import type { ComponentLogger, Logger } from '@libp2p/interface'

/** Levels, most severe first. */
export type LogLevel = 'error' | 'warn' | 'info' | 'debug'

/** The levels in order of severity. */
export const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug']

/** How `streamLogger` writes a line. */
export type LogFormat = 'text' | 'json'

/** The formats `streamLogger` writes. */
export const LOG_FORMATS: readonly LogFormat[] = ['text', 'json']

/** The facts of one event, written after its message (`key=value` in text). */
export type LogFields = Record<string, string | number | boolean | null | undefined>

/** A part's logger: one line per event, at a level. */
export interface DdsLogger {
  error(msg: string, fields?: LogFields): void
  warn(msg: string, fields?: LogFields): void
  info(msg: string, fields?: LogFields): void
  debug(msg: string, fields?: LogFields): void
  /** True when `debug` lines are written anywhere: check it before building a costly one. */
  readonly debugEnabled: boolean
}

/** A component logger of `streamLogger`: libp2p's `Logger`, plus leveled, structured lines. */
interface LeveledLogger extends Logger {
  write(level: LogLevel, msg: string, fields?: LogFields): void
  levelEnabled(level: LogLevel): boolean
}

function isLeveled (logger: Logger): logger is LeveledLogger {
  return typeof (logger as Partial<LeveledLogger>).write === 'function'
}

/** The message of an error, for a log field. */
export function errorText (err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err)
}

/**
 * The logger of the part `name` (e.g. `dds:replication`) from a libp2p
 * `ComponentLogger`. A logger from `streamLogger` writes leveled lines; any
 * other (libp2p's `defaultLogger()`, `prefixLogger()`...) gets `info` and
 * `debug` lines as its plain log, `warn` and `error` as its error log.
 */
export function componentLog (logger: ComponentLogger, name: string): DdsLogger {
  const base = logger.forComponent(name)
  if (isLeveled(base)) {
    return {
      error: (msg, fields) => { base.write('error', msg, fields) },
      warn: (msg, fields) => { base.write('warn', msg, fields) },
      info: (msg, fields) => { base.write('info', msg, fields) },
      debug: (msg, fields) => { if (base.levelEnabled('debug')) { base.write('debug', msg, fields) } },
      get debugEnabled () { return base.levelEnabled('debug') }
    }
  }
  const line = (msg: string, fields?: LogFields): string => `${msg}${fields == null ? '' : ` ${textFields(fields)}`}`
  return {
    error: (msg, fields) => { if (base.enabled) { base.error('%s', line(msg, fields)) } },
    warn: (msg, fields) => { if (base.enabled) { base.error('%s', line(msg, fields)) } },
    info: (msg, fields) => { if (base.enabled) { base('%s', line(msg, fields)) } },
    debug: (msg, fields) => { if (base.enabled) { base('%s', line(msg, fields)) } },
    get debugEnabled () { return base.enabled }
  }
}

/** A logger that writes nothing (for parts made outside a node, e.g. in tests). */
export const silentLog: DdsLogger = {
  error: () => {},
  warn: () => {},
  info: () => {},
  debug: () => {},
  debugEnabled: false
}

/** Options of `streamLogger`. */
export interface StreamLoggerInit {
  /** The least severe level written. @default 'info' */
  level?: LogLevel
  /** `text`: `<time> <LEVEL> <component> <message> key=value ...`; `json`: one object per line. @default 'text' */
  format?: LogFormat
  /** Where each line goes (without its newline). @default a write to stderr */
  write?: (line: string) => void
  /** The clock of the time stamps. @default Date.now */
  now?: () => number
}

/** A value as `key=value` text writes it: bare when it has no space, quote or equals sign, JSON-quoted otherwise. */
function textValue (value: string | number | boolean | null | undefined): string {
  const text = String(value)
  return /^[^\s"=]+$/.test(text) ? text : JSON.stringify(text)
}

function textFields (fields: LogFields): string {
  return Object.entries(fields).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${textValue(v)}`).join(' ')
}

/**
 * A `ComponentLogger` that writes one line per event at `level` or above,
 * as text or JSON: what an operator reads or feeds to a log collector. The
 * libp2p-style calls of its loggers (`log('%s', ...)`) are written at
 * `debug`, their `error` calls at `error`.
 */
export function streamLogger (init: StreamLoggerInit = {}): ComponentLogger {
  const level = init.level ?? 'info'
  if (!LOG_LEVELS.includes(level)) {
    throw new TypeError(`level must be one of ${LOG_LEVELS.join(', ')}, got ${String(level)}`)
  }
  const format = init.format ?? 'text'
  if (!LOG_FORMATS.includes(format)) {
    throw new TypeError(`format must be one of ${LOG_FORMATS.join(', ')}, got ${String(format)}`)
  }
  const write = init.write ?? ((line: string) => { process.stderr.write(`${line}\n`) })
  const now = init.now ?? Date.now
  const threshold = LOG_LEVELS.indexOf(level)
  const enabled = (l: LogLevel): boolean => LOG_LEVELS.indexOf(l) <= threshold
  const emit = (component: string, l: LogLevel, msg: string, fields?: LogFields): void => {
    if (!enabled(l)) {
      return
    }
    const time = new Date(now()).toISOString()
    if (format === 'json') {
      const record: Record<string, unknown> = { time, level: l, component, msg }
      for (const [k, v] of Object.entries(fields ?? {})) {
        if (v !== undefined && !(k in record)) {
          record[k] = v
        }
      }
      write(JSON.stringify(record))
    } else {
      const rest = fields == null ? '' : textFields(fields)
      write(`${time} ${l.toUpperCase().padEnd(5)} ${component} ${msg}${rest === '' ? '' : ` ${rest}`}`)
    }
  }
  const printf = (args: unknown[]): string => {
    const [formatter, ...rest] = args
    let i = 0
    const text = String(formatter).replace(/%[sdoOjpcabtek%]/g, (m) => m === '%%' ? '%' : i < rest.length ? String(rest[i++]) : m)
    return [text, ...rest.slice(i).map(String)].join(' ')
  }
  const forComponent = (name: string): LeveledLogger => {
    const log = ((...args: unknown[]) => { emit(name, 'debug', printf(args)) }) as LeveledLogger
    log.error = (...args: unknown[]) => { emit(name, 'error', printf(args)) }
    log.trace = () => {}
    log.enabled = enabled('debug')
    log.write = (l, msg, fields) => { emit(name, l, msg, fields) }
    log.levelEnabled = enabled
    log.newScope = (scope: string) => forComponent(`${name}:${scope}`)
    return log
  }
  return { forComponent }
}
