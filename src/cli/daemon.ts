/**
 * `dds daemon`: runs a DDS node with a LevelDB store in the repo and its HTTP
 * gateway, writes the gateway URL to `<repo>/api` for the client commands,
 * and stops cleanly on SIGINT or SIGTERM.
 *
 * @module
 */

import { readFileSync, rmSync } from 'node:fs'
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Dds } from '../dds.js'
import { streamLogger } from '../log/index.js'
import { startGateway, type Gateway } from '../gateway/index.js'
import { CliError, oneLine, systemErrorCode } from './errors.js'
import { formatBytes, formatFields } from './format.js'
import { API_FILE, STORE_DIR } from './constants.js'
import type { DaemonConfig } from './config.js'

/** What a running daemon prints (and `--json` gives as one JSON line). */
export interface DaemonInfo {
  peer: string
  addrs: string[]
  gateway: string
  repo: string
  /** Whose content this node holds replicas of. */
  accept: DaemonConfig['accept']
  /** Bytes of replicas held for others at most. */
  replicaQuota: number
}

/**
 * Starts the node and the gateway, then waits for SIGINT or SIGTERM and
 * stops both. Resolves when the daemon has stopped.
 */
export async function runDaemon (config: DaemonConfig, options: { json: boolean }): Promise<void> {
  try {
    await mkdir(config.repo, { recursive: true })
  } catch (err) {
    throw new CliError(`cannot create the repo directory ${config.repo}: ${(err as Error).message}`, { cause: err })
  }
  const dds = await createNode(config)
  let gateway: Gateway
  try {
    gateway = await startGateway(dds, { host: config.gateway.host, port: config.gateway.port, apiToken: config.apiToken })
  } catch (err) {
    await dds.stop().catch(() => {})
    if (systemErrorCode(err) === 'EADDRINUSE' || /EADDRINUSE/.test(String((err as Error)?.message))) {
      throw new CliError(`gateway address ${config.gateway.host}:${config.gateway.port} is already in use; stop what listens there or pass --gateway HOST:PORT (port 0 picks a free one)`, { cause: err })
    }
    throw new CliError(`cannot start the gateway on ${config.gateway.host}:${config.gateway.port}: ${oneLine((err as Error).message)}`, { cause: err })
  }
  const apiFile = join(config.repo, API_FILE)
  try {
    await writeAtomic(apiFile, `${gateway.url}\n`)
  } catch (err) {
    await gateway.close().catch(() => {})
    await dds.stop().catch(() => {})
    throw new CliError(`cannot write ${apiFile}: ${(err as Error).message}`, { cause: err })
  }
  // a crash (an uncaught error) or a second signal still removes it; only a
  // SIGKILL leaves it behind, and the next daemon on the repo overwrites it
  const removeOnExit = (): void => { removeApiFileSync(apiFile, gateway.url) }
  process.once('exit', removeOnExit)
  const info: DaemonInfo = { peer: dds.peerId, addrs: dds.getMultiaddrs(), gateway: gateway.url, repo: config.repo, accept: config.accept, replicaQuota: config.replicaQuota }
  process.stdout.write(options.json ? `${JSON.stringify(info)}\n` : `${formatDaemonInfo(info)}\n`)
  await waitForSignal()
  process.stderr.write('dds: stopping the daemon\n')
  await Promise.allSettled([gateway.close()])
  await dds.stop().catch((err: Error) => {
    process.stderr.write(`dds: error while stopping the node: ${oneLine(err.message)}\n`)
  })
  await removeApiFile(apiFile, gateway.url)
  process.off('exit', removeOnExit)
}

async function createNode (config: DaemonConfig): Promise<Dds> {
  const storePath = join(config.repo, STORE_DIR)
  try {
    return await Dds.create({
      storage: storePath,
      listen: config.listen,
      bootstrap: config.bootstrap,
      ...(config.announce.length > 0 ? { announceAddrs: config.announce } : {}),
      nat: config.nat,
      ...(config.relayServer ? { relay: { server: true } } : {}),
      replication: { factor: config.replicationFactor, accept: config.accept, quotaBytes: config.replicaQuota },
      logger: streamLogger({ level: config.logLevel, format: config.logFormat }),
      ...(config.bandwidth != null ? { bandwidth: config.bandwidth } : {})
    })
  } catch (err) {
    throw nodeStartError(err, config, storePath)
  }
}

function nodeStartError (err: unknown, config: DaemonConfig, storePath: string): CliError {
  const message = oneLine((err as Error)?.message ?? String(err))
  if (isLevelLocked(err)) {
    return new CliError(`repo ${config.repo} is in use by another DDS daemon (its store ${storePath} is locked); stop that daemon or pass another --repo`, { cause: err })
  }
  if (systemErrorCode(err) === 'EADDRINUSE' || /EADDRINUSE|address already in use/i.test(message)) {
    return new CliError(`libp2p listen address ${config.listen.join(', ')} is already in use; pass another --listen (e.g. /ip4/0.0.0.0/tcp/0 for any free port)`, { cause: err })
  }
  if ((err as Error)?.name === 'RemoteError' && config.bootstrap.length > 0) {
    return new CliError(`cannot reach any bootstrap peer: ${message}`, { cause: err })
  }
  return new CliError(`cannot start the node: ${message}`, { cause: err })
}

function isLevelLocked (err: unknown): boolean {
  for (let e = err, depth = 0; e != null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if ((e as { code?: unknown }).code === 'LEVEL_LOCKED') {
      return true
    }
  }
  return false
}

/** The lines `dds daemon` prints once it runs. */
export function formatDaemonInfo (info: DaemonInfo): string {
  return formatFields([
    ['peer id', info.peer],
    ...info.addrs.map((addr): [string, string] => ['listening', addr]),
    ['gateway', info.gateway],
    ['repo', info.repo],
    ['replicas', replicaLine(info)]
  ]) + '\ndaemon ready; stop it with Ctrl-C'
}

/** What the daemon holds for others, as its start-up line says. */
function replicaLine (info: DaemonInfo): string {
  if (info.accept === 'none' || info.replicaQuota === 0) {
    return 'holds none for other peers'
  }
  const whose = info.accept === 'any' ? 'any peer' : `${info.accept.length} listed ${info.accept.length === 1 ? 'peer' : 'peers'}`
  return `holds up to ${formatBytes(info.replicaQuota)} for ${whose} (see \`dds replicas\`; --accept none refuses)`
}

/** Resolves on the first SIGINT or SIGTERM; a second one ends the process at once. */
async function waitForSignal (): Promise<NodeJS.Signals> {
  return new Promise(resolve => {
    const onSignal = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
      const force = (): void => {
        process.stderr.write('dds: stopping at once\n')
        process.exit(1)
      }
      process.once('SIGINT', force)
      process.once('SIGTERM', force)
      resolve(signal)
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
  })
}

async function writeAtomic (path: string, text: string): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`
  await writeFile(temporary, text, { mode: 0o644 })
  await rename(temporary, path)
}

/** Removes `<repo>/api` unless another daemon has since written its own URL there. */
async function removeApiFile (path: string, url: string): Promise<void> {
  const text = await readFile(path, 'utf8').catch(() => undefined)
  if (text?.trim() === url) {
    await rm(path, { force: true })
  }
}

/** `removeApiFile` for an `exit` handler, which cannot wait. */
function removeApiFileSync (path: string, url: string): void {
  try {
    if (readFileSync(path, 'utf8').trim() === url) {
      rmSync(path, { force: true })
    }
  // exiting: the api file names a gateway that is gone, and the next daemon overwrites it
  } catch {}
}
