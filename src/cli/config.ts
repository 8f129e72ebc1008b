/**
 * Where the daemon's settings come from: command-line flags, then environment
 * variables, then the config file (`<repo>/config.json` or `--config FILE`),
 * then defaults. Every value is checked here, with an error naming where the
 * bad value came from.
 *
 * @module
 */

import { readFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { DEFAULT_REPLICA_QUOTA_BYTES } from '../replication/constants.js'
import type { ReplicaPolicy } from '../replication/index.js'
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from '../log/index.js'
import { CliError, UsageError, systemErrorCode } from './errors.js'
import { parseSize } from './size.js'
import { parseByteRate } from './rate.js'
import type { BandwidthInit } from '../network/index.js'
import {
  CONFIG_FILE, DEFAULT_GATEWAY_HOST, DEFAULT_GATEWAY_PORT, DEFAULT_LISTEN, DEFAULT_REPLICATION_FACTOR,
  DEFAULT_REPO_NAME, MAX_REPLICATION_FACTOR
} from './constants.js'

/** The settings `dds daemon` runs with. */
export interface DaemonConfig {
  /** Absolute path of the repo directory. */
  repo: string
  listen: string[]
  /** Addresses told to other peers instead of the listen ones (a port forward, a DNS name). */
  announce: string[]
  bootstrap: string[]
  /** NAT traversal (AutoNAT, a relay reservation when not publicly reachable, hole punching, UPnP). */
  nat: boolean
  /** Serve relay reservations for nodes behind NATs. */
  relayServer: boolean
  gateway: { host: string, port: number }
  apiToken?: string
  replicationFactor: number
  /** Whose content this node holds replicas of: `any`, `none` or a list of peer ids. */
  accept: ReplicaPolicy
  /** Bytes of replicas held for others at most. */
  replicaQuota: number
  /** The least severe level of the lines the daemon writes to stderr. */
  logLevel: LogLevel
  /** Lines as text, or one JSON object each. */
  logFormat: LogFormat
  /** Caps on chunk traffic in bytes per second; absent when none is set. */
  bandwidth?: BandwidthInit
}

/** The daemon's command-line flags, as commander gives them. */
export interface DaemonFlags {
  repo?: string
  listen?: string[]
  announce?: string[]
  bootstrap?: string[]
  /** False with `--no-nat`. */
  nat?: boolean
  relayServer?: boolean
  gateway?: string
  apiToken?: string
  replicationFactor?: string
  maxUpload?: string
  maxDownload?: string
  maxUploadPerPeer?: string
  config?: string
  accept?: string
  replicaQuota?: string
  logLevel?: string
  logFormat?: string
}

/** Keys a config file may hold (`repo` only in a file given with `--config`). */
const CONFIG_KEYS = ['repo', 'listen', 'announce', 'bootstrap', 'nat', 'relayServer', 'gateway', 'apiToken', 'replicationFactor', 'accept', 'replicaQuota', 'maxUpload', 'maxDownload', 'maxUploadPerPeer', 'logLevel', 'logFormat']

/** The bandwidth settings: the limit each sets, its flag, environment variable and config key. */
const RATE_SETTINGS = [
  { limit: 'upload', flag: 'maxUpload', option: '--max-upload', env: 'DDS_MAX_UPLOAD' },
  { limit: 'download', flag: 'maxDownload', option: '--max-download', env: 'DDS_MAX_DOWNLOAD' },
  { limit: 'uploadPerPeer', flag: 'maxUploadPerPeer', option: '--max-upload-per-peer', env: 'DDS_MAX_UPLOAD_PER_PEER' }
] as const

type Env = Record<string, string | undefined>

/** The repo directory from `--repo`, `DDS_REPO` or the default `~/.dds`. */
export function resolveRepo (flag: string | undefined, env: Env = process.env): string {
  const repo = nonEmpty(flag) ?? nonEmpty(env.DDS_REPO) ?? join(homedir(), DEFAULT_REPO_NAME)
  return resolve(repo)
}

/**
 * Resolves the daemon's settings.
 *
 * @throws {UsageError} for a bad flag (exit code 2)
 * @throws {CliError} for a bad environment variable or config file
 */
export async function resolveDaemonConfig (flags: DaemonFlags, env: Env = process.env): Promise<DaemonConfig> {
  const file = await readConfigFile(flags, env)
  const repoFromFile = file.values.repo != null ? resolve(file.dir, stringValue(file.values.repo, `"repo" in ${file.path}`)) : undefined
  const repo = nonEmpty(flags.repo) != null || nonEmpty(env.DDS_REPO) != null || repoFromFile == null
    ? resolveRepo(flags.repo, env)
    : repoFromFile
  const pick = <T>(flag: T | undefined, envName: string, fromEnv: (text: string, source: string) => T, key: string, fromFile: (value: unknown, source: string) => T): { value: T | undefined } => {
    if (flag !== undefined) {
      return { value: flag }
    }
    const text = nonEmpty(env[envName])
    if (text != null) {
      return { value: fromEnv(text, `environment variable ${envName}`) }
    }
    if (file.values[key] !== undefined) {
      return { value: fromFile(file.values[key], `"${key}" in ${file.path}`) }
    }
    return { value: undefined }
  }
  const listen = pick(flags.listen != null ? checkAddrs(flags.listen, '--listen', false, UsageError) : undefined,
    'DDS_LISTEN', (text, source) => checkAddrs(splitList(text), source, false),
    'listen', (value, source) => checkAddrs(stringList(value, source), source, false)).value
  const announce = pick(flags.announce != null ? checkAnnounce(flags.announce, '--announce', UsageError) : undefined,
    'DDS_ANNOUNCE', (text, source) => checkAnnounce(splitList(text), source),
    'announce', (value, source) => checkAnnounce(stringList(value, source), source)).value
  const nat = pick(flags.nat === false ? false : undefined,
    'DDS_NAT', (text, source) => onOff(text, source),
    'nat', (value, source) => booleanValue(value, source)).value
  const relayServer = pick(flags.relayServer === true ? true : undefined,
    'DDS_RELAY_SERVER', (text, source) => onOff(text, source),
    'relayServer', (value, source) => booleanValue(value, source)).value
  const bootstrap = pick(flags.bootstrap != null ? checkAddrs(flags.bootstrap, '--bootstrap', true, UsageError) : undefined,
    'DDS_BOOTSTRAP', (text, source) => checkAddrs(splitList(text), source, true),
    'bootstrap', (value, source) => checkAddrs(stringList(value, source), source, true)).value
  const gateway = pick(flags.gateway != null ? parseHostPort(flags.gateway, '--gateway', UsageError) : undefined,
    'DDS_GATEWAY', (text, source) => parseHostPort(text, source),
    'gateway', (value, source) => parseHostPort(stringValue(value, source), source)).value
  const apiToken = pick(flags.apiToken != null ? checkToken(flags.apiToken, '--api-token', UsageError) : undefined,
    'DDS_API_TOKEN', (text, source) => checkToken(text, source),
    'apiToken', (value, source) => checkToken(stringValue(value, source), source)).value
  const factor = pick(flags.replicationFactor != null ? parseFactor(flags.replicationFactor, '--replication-factor', UsageError) : undefined,
    'DDS_REPLICATION_FACTOR', (text, source) => parseFactor(text, source),
    'replicationFactor', (value, source) => parseFactor(typeof value === 'number' || typeof value === 'string' ? String(value) : '', source, CliError, value)).value
  const accept = pick(flags.accept != null ? parseAccept(flags.accept, '--accept', UsageError) : undefined,
    'DDS_ACCEPT', (text, source) => parseAccept(text, source),
    'accept', (value, source) => Array.isArray(value) ? checkPeerIds(stringList(value, source), source) : parseAccept(stringValue(value, source), source)).value
  const replicaQuota = pick(flags.replicaQuota != null ? parseQuota(flags.replicaQuota, '--replica-quota', UsageError) : undefined,
    'DDS_REPLICA_QUOTA', (text, source) => parseQuota(text, source),
    'replicaQuota', (value, source) => parseQuota(typeof value === 'number' || typeof value === 'string' ? String(value) : '', source, CliError, value)).value
  const logLevel = pick(flags.logLevel != null ? oneOf(flags.logLevel, LOG_LEVELS, '--log-level', UsageError) : undefined,
    'DDS_LOG_LEVEL', (text, source) => oneOf(text, LOG_LEVELS, source),
    'logLevel', (value, source) => oneOf(stringValue(value, source), LOG_LEVELS, source)).value
  const logFormat = pick(flags.logFormat != null ? oneOf(flags.logFormat, LOG_FORMATS, '--log-format', UsageError) : undefined,
    'DDS_LOG_FORMAT', (text, source) => oneOf(text, LOG_FORMATS, source),
    'logFormat', (value, source) => oneOf(stringValue(value, source), LOG_FORMATS, source)).value
  const bandwidth: BandwidthInit = {}
  for (const { limit, flag, option, env: envName } of RATE_SETTINGS) {
    const rate = pick(flags[flag] != null ? parseByteRate(flags[flag], option, UsageError) : undefined,
      envName, (text, source) => parseByteRate(text, source),
      flag, (value, source) => parseByteRate(value, source)).value
    if (rate != null) {
      bandwidth[limit] = rate
    }
  }
  return {
    repo,
    logLevel: logLevel ?? 'info',
    logFormat: logFormat ?? 'text',
    listen: listen ?? DEFAULT_LISTEN,
    announce: announce ?? [],
    bootstrap: bootstrap ?? [],
    nat: nat ?? true,
    relayServer: relayServer ?? false,
    gateway: gateway ?? { host: DEFAULT_GATEWAY_HOST, port: DEFAULT_GATEWAY_PORT },
    ...(apiToken != null ? { apiToken } : {}),
    replicationFactor: factor ?? DEFAULT_REPLICATION_FACTOR,
    accept: accept ?? 'any',
    replicaQuota: replicaQuota ?? DEFAULT_REPLICA_QUOTA_BYTES,
    ...(Object.keys(bandwidth).length > 0 ? { bandwidth } : {})
  }
}

interface ConfigFile {
  path: string
  dir: string
  values: Record<string, unknown>
}

async function readConfigFile (flags: DaemonFlags, env: Env): Promise<ConfigFile> {
  const explicit = nonEmpty(flags.config)
  const path = explicit != null ? resolve(explicit) : join(resolveRepo(flags.repo, env), CONFIG_FILE)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if (systemErrorCode(err) === 'ENOENT' && explicit == null) {
      return { path, dir: resolve(path, '..'), values: {} }
    }
    if (systemErrorCode(err) === 'ENOENT') {
      throw new UsageError(`config file not found: ${explicit}`)
    }
    throw new CliError(`cannot read config file ${path}: ${(err as Error).message}`, { cause: err })
  }
  let values: unknown
  try {
    values = JSON.parse(text)
  } catch (err) {
    throw new CliError(`config file ${path} is not valid JSON: ${(err as Error).message}`, { cause: err })
  }
  if (values == null || typeof values !== 'object' || Array.isArray(values)) {
    throw new CliError(`config file ${path} must hold a JSON object such as {"gateway": "127.0.0.1:8180"}`)
  }
  const record = values as Record<string, unknown>
  for (const key of Object.keys(record)) {
    if (!CONFIG_KEYS.includes(key) || (key === 'repo' && explicit == null)) {
      const allowed = CONFIG_KEYS.filter(k => k !== 'repo' || explicit != null).join(', ')
      throw new CliError(`config file ${path} has an unknown key "${key}"; the keys are ${allowed}`)
    }
  }
  return { path, dir: resolve(path, '..'), values: record }
}

/** First parts of a listen address the node's TCP and QUIC transports can listen on. */
const LISTEN_HOSTS = new Set(['ip4', 'ip6', 'dns', 'dns4', 'dns6'])

type ErrorClass = new (message: string, options?: ErrorOptions) => CliError

/** Parses `HOST:PORT` (`[::1]:8180` for IPv6); port 0 means any free port. */
export function parseHostPort (text: string, source: string, Err: ErrorClass = CliError): { host: string, port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s/]+)):(\d{1,5})$/.exec(text.trim())
  const port = match != null ? Number(match[3]) : NaN
  if (match == null || port > 65535) {
    throw new Err(`invalid ${source} "${text}": expected HOST:PORT such as 127.0.0.1:8180 (port 0 picks a free port)`)
  }
  return { host: match[1] ?? match[2]!, port }
}

function parseFactor (text: string, source: string, Err: ErrorClass = CliError, raw: unknown = text): number {
  const value = Number(text.trim())
  if (!/^\d+$/.test(text.trim()) || value < 1 || value > MAX_REPLICATION_FACTOR) {
    throw new Err(`invalid ${source} ${JSON.stringify(raw) ?? String(raw)}: expected a whole number from 1 to ${MAX_REPLICATION_FACTOR}`)
  }
  return value
}

/** `any`, `none`, or peer ids separated by commas or spaces. */
function parseAccept (text: string, source: string, Err: ErrorClass = CliError): ReplicaPolicy {
  const trimmed = text.trim()
  if (trimmed === 'any' || trimmed === 'none') {
    return trimmed
  }
  return checkPeerIds(splitList(trimmed), source, Err)
}

function checkPeerIds (ids: string[], source: string, Err: ErrorClass = CliError): string[] {
  if (ids.length === 0) {
    throw new Err(`invalid ${source}: expected any, none, or peer ids separated by commas`)
  }
  return ids.map(id => {
    try {
      return peerIdFromString(id).toString()
    } catch (err) {
      throw new Err(`invalid ${source}: "${id.slice(0, 100)}" is not a peer id; expected any, none, or peer ids (12D3KooW...) separated by commas`, { cause: err })
    }
  })
}

/** A replica quota: a size such as 512MiB or 10GB, or bytes; 0 holds no replicas. */
function parseQuota (text: string, source: string, Err: ErrorClass = CliError, raw: unknown = text): number {
  const bytes = parseSize(text)
  if (bytes == null) {
    throw new Err(`invalid ${source} ${JSON.stringify(raw) ?? String(raw)}: expected a size such as 512MiB, 10GB or 1073741824 (bytes)`)
  }
  return bytes
}

export function checkToken (text: string, source: string, Err: ErrorClass = CliError): string {
  if (text.length === 0 || text.length > 1024 || !/^[\x21-\x7e]+$/.test(text)) {
    throw new Err(`invalid ${source}: an API token is 1 to 1024 printable ASCII characters without spaces`)
  }
  return text
}

function checkAddrs (addrs: string[], source: string, needPeerId: boolean, Err: ErrorClass = CliError): string[] {
  return addrs.map(text => {
    let components
    try {
      components = multiaddr(text).getComponents()
    } catch (err) {
      throw new Err(`invalid ${source} "${text}": not a multiaddr (expected e.g. /ip4/127.0.0.1/tcp/4180${needPeerId ? '/p2p/<peer id>' : ''})`, { cause: err })
    }
    if (needPeerId && !components.some(c => c.name === 'p2p')) {
      throw new Err(`invalid ${source} "${text}": it has no /p2p/<peer id> part; \`dds id\` on that node prints its full addresses`)
    }
    if (!needPeerId && !isListenAddress(components.map(c => c.name))) {
      throw new Err(`invalid ${source} "${text}": a DDS node listens on TCP, WebSockets or QUIC; expected /ip4/<address>/tcp/<port> or /ip6/<address>/tcp/<port> (either optionally with /ws after the port), or /ip4/<address>/udp/<port>/quic-v1`)
    }
    return text
  })
}

/** `<host>/tcp/<port>`, optionally followed by `/ws`, or `<host>/udp/<port>/quic-v1`. */
function isListenAddress (names: string[]): boolean {
  if (!LISTEN_HOSTS.has(names[0]!)) {
    return false
  }
  return names[1] === 'tcp'
    ? names.length === 2 || (names.length === 3 && names[2] === 'ws')
    : names[1] === 'udp' && names.length === 3 && names[2] === 'quic-v1'
}

/** Announce addresses: a host (IP or DNS name) and a TCP port, optionally /ws; no /p2p part (the node adds its own). */
function checkAnnounce (addrs: string[], source: string, Err: ErrorClass = CliError): string[] {
  return addrs.map(text => {
    let names
    try {
      names = multiaddr(text).getComponents().map(c => c.name)
    } catch (err) {
      throw new Err(`invalid ${source} "${text}": not a multiaddr (expected e.g. /ip4/203.0.113.7/tcp/4180 or /dns4/dds.example.org/tcp/4180)`, { cause: err })
    }
    if (!isListenAddress(names)) {
      throw new Err(`invalid ${source} "${text}": expected /ip4/<address>/tcp/<port>, /dns4/<name>/tcp/<port> (or /ip6, /dns6, each optionally with /ws), or <host>/udp/<port>/quic-v1, without /p2p`)
    }
    return text
  })
}

function onOff (text: string, source: string, Err: ErrorClass = CliError): boolean {
  const t = text.trim().toLowerCase()
  if (['1', 'true', 'on', 'yes'].includes(t)) return true
  if (['0', 'false', 'off', 'no'].includes(t)) return false
  throw new Err(`invalid ${source} "${text}": expected on or off`)
}

function booleanValue (value: unknown, source: string): boolean {
  if (typeof value !== 'boolean') {
    throw new CliError(`invalid ${source}: expected true or false`)
  }
  return value
}

function splitList (text: string): string[] {
  return text.split(/[\s,]+/).filter(s => s.length > 0)
}

function stringList (value: unknown, source: string): string[] {
  if (typeof value === 'string') {
    return [value]
  }
  if (!Array.isArray(value) || !value.every(v => typeof v === 'string')) {
    throw new CliError(`invalid ${source}: expected a string or an array of strings`)
  }
  return value
}

function stringValue (value: unknown, source: string): string {
  if (typeof value !== 'string') {
    throw new CliError(`invalid ${source}: expected a string`)
  }
  return value
}

function nonEmpty (text: string | undefined): string | undefined {
  return text != null && text.trim().length > 0 ? text : undefined
}

/** `text` if it is one of `allowed`. @throws {CliError} (or `ErrorClass`) naming the source and the choices */
function oneOf<T extends string> (text: string, allowed: readonly T[], source: string, ErrorClass: new (message: string) => Error = CliError): T {
  if (!(allowed as readonly string[]).includes(text)) {
    throw new ErrorClass(`${source} must be one of ${allowed.join(', ')}, got "${text.slice(0, 40)}"`)
  }
  return text as T
}
