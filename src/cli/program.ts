/**
 * The `dds` command line: commander wiring of every command, and how errors
 * end the process (one `dds: <message>` line on stderr; exit code 1, or 2
 * for bad arguments).
 *
 * @module
 */

import { readFileSync } from 'node:fs'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander'
import { cidToString, parseCid } from '../cid.js'
import { ApiClient, type ClientFlags } from './client.js'
import { resolveDaemonConfig, type DaemonFlags } from './config.js'
import { CliError, EXIT_FAILURE, EXIT_USAGE, UsageError, oneLine, systemErrorCode } from './errors.js'
import * as commands from './commands.js'
import { get } from './get.js'
import { formatPinned, pinWithProgress } from './pin.js'
import { publish } from './transfer.js'
import { exportCar, importCar } from './car.js'
import type { Output } from './commands.js'

/** Keys `--meta` accepts (the same rule as the core's metadata keys). */

/**
 * Runs the command line `argv` (as `process.argv`: node, script, args...)
 * and resolves to the process exit code.
 */
export async function main (argv: string[]): Promise<number> {
  const program = buildProgram()
  try {
    await program.parseAsync(argv)
    return 0
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander has printed its message (help, version, or a usage error)
      return err.exitCode === 0 ? 0 : EXIT_USAGE
    }
    if (!(err instanceof CliError) && systemErrorCode(err) === 'EPIPE') {
      return 0 // the reader of stdout went away (e.g. `dds get CID | head`)
    }
    if (err instanceof CliError) {
      process.stderr.write(`dds: ${oneLine(err.message)}\n`)
      return err.exitCode
    }
    // an unexpected error: its class name helps a bug report
    const message = err instanceof Error ? (err.name === 'Error' ? err.message : `${err.name}: ${err.message}`) : String(err)
    process.stderr.write(`dds: ${oneLine(message)}\n`)
    return EXIT_FAILURE
  }
}

export function buildProgram (): Command {
  const program = new Command('dds')
  program
    .description('DDS: content-addressed storage on libp2p. Run a node with `dds daemon`; the other commands talk to it.')
    .version(packageVersion(), '-V, --version')
    .exitOverride()
    .configureOutput({
      // one line, as every other error: "unknown command 'x' (Did you mean y?)"
      outputError: (text, write) => { write(`dds: ${oneLine(text.replace(/^error: /, ''))}\n`) }
    })
    .showSuggestionAfterError(true)

  program.command('daemon')
    .description('run a DDS node with its HTTP gateway until SIGINT or SIGTERM')
    .option('--repo <dir>', 'repo directory (LevelDB store, config.json, api file) [env DDS_REPO, default ~/.dds]')
    .option('--listen <multiaddr>', 'libp2p listen address; repeat for more [env DDS_LISTEN, default /ip4/0.0.0.0/tcp/4180]', collect)
    .option('--announce <multiaddr>', 'address to tell other peers instead of the listen ones (a port forward, a DNS name such as /dns4/dds.example.org/tcp/4180); repeat for more [env DDS_ANNOUNCE]', collect)
    .option('--bootstrap <multiaddr>', 'peer to join the network through, with /p2p/<id> (/dns4 names work); repeat for more [env DDS_BOOTSTRAP]', collect)
    .option('--no-nat', 'turn off NAT traversal: reachability checks, relay reservations, hole punching, UPnP [env DDS_NAT=off]')
    .option('--relay-server', 'serve relay reservations for nodes behind NATs (run it on a publicly reachable node) [env DDS_RELAY_SERVER=on]')
    .option('--gateway <host:port>', 'HTTP gateway address, port 0 for any free port [env DDS_GATEWAY, default 127.0.0.1:8180]')
    .option('--api-token <token>', 'Bearer token that lets non-loopback clients use the write API [env DDS_API_TOKEN]')
    .option('--replication-factor <n>', 'copies of pinned content to keep on the network [env DDS_REPLICATION_FACTOR, default 3]')
    .option('--accept <who>', 'whose content to hold replicas of: any, none, or peer ids separated by commas [env DDS_ACCEPT, default any]')
    .option('--replica-quota <size>', 'room for replicas held for others, such as 512MiB or 10GB; 0 holds none [env DDS_REPLICA_QUOTA, default 1GiB]')
    .option('--log-level <level>', 'least severe lines written to stderr: error, warn, info or debug [env DDS_LOG_LEVEL, default info]')
    .option('--log-format <format>', 'log lines as text or json (one object per line) [env DDS_LOG_FORMAT, default text]')
    .option('--max-upload <rate>', 'cap on chunk upload per second over all peers, e.g. 5MiB [env DDS_MAX_UPLOAD, default unlimited]')
    .option('--max-download <rate>', 'cap on chunk download per second, e.g. 20MiB [env DDS_MAX_DOWNLOAD, default unlimited]')
    .option('--max-upload-per-peer <rate>', 'cap on chunk upload per second to any one peer, on top of --max-upload [env DDS_MAX_UPLOAD_PER_PEER, default unlimited]')
    .option('--config <file>', 'config file [default <repo>/config.json]')
    .option('--json', 'print the started daemon\'s peer id, addresses and gateway URL as one JSON line')
    .addHelpText('after', '\nPrecedence: flags > environment variables > config file > defaults.\nThe config file is JSON with the keys listen, announce, bootstrap, nat, relayServer, gateway, apiToken, replicationFactor, accept, replicaQuota, maxUpload, maxDownload, maxUploadPerPeer, logLevel, logFormat.\nRates are bytes per second with an optional unit: 65536, 500KiB, 5MiB, 2MB (at least 64KiB).')
    .action(async (flags: DaemonFlags & { json?: boolean }) => {
      const config = await resolveDaemonConfig(flags)
      const { runDaemon } = await import('./daemon.js')
      await runDaemon(config, { json: flags.json === true })
    })

  clientOptions(program.command('publish')
    .description('publish a file (or - for stdin), or a folder as one collection, on the daemon; prints its CID')
    .argument('<file>', 'the file or folder to publish, or - to read stdin')
    .option('--name <name>', 'name recorded with the content [default: the file name]')
    .option('--media-type <type>', 'media type such as audio/wav [default: from the file extension]')
    .option('--meta <key=value>', 'a metadata entry such as title=... or artist=...; repeat for more', collectMeta)
    .option('--no-progress', 'never show the progress bar'))
    .action(async (file: string, flags: ClientFlags & { name?: string, mediaType?: string, meta?: Array<[string, string]>, progress: boolean, json?: boolean }) => {
      const client = await ApiClient.find(flags)
      const result = await publish(client, {
        file,
        name: flags.name,
        mediaType: flags.mediaType,
        metadata: flags.meta ?? [],
        progress: flags.progress && process.stderr.isTTY === true
      })
      print({ json: result, text: result.cid }, flags.json)
    })

  clientOptions(program.command('get')
    .description('download content to a file, or to stdout')
    .argument('<cid>', 'the content CID', cidArgument)
    .option('-o, --output <file>', 'write to this file (- for stdout), or into this directory under the content\'s name [default: stdout when it is a pipe or a file; on a terminal, a file named after the content in the current directory]')
    .option('--force', 'overwrite a file saved under the content\'s name; write content to a terminal')
    .option('--no-resume', 'remove the partial file of an interrupted download instead of keeping it, and start over rather than resume one')
    .option('--no-progress', 'never show the progress bar'))
    .action(async (cid: string, flags: ClientFlags & { output?: string, force?: boolean, resume: boolean, progress: boolean, json?: boolean }) => {
      const client = await ApiClient.find(flags)
      const result = await get(client, {
        cid,
        output: flags.output,
        force: flags.force === true,
        resume: flags.resume,
        progress: flags.progress && process.stderr.isTTY === true
      })
      if (result.path != null) {
        const resumed = result.kept > 0 ? ` (resumed: ${result.kept} bytes kept from an earlier download, ${result.fetched} fetched)` : ''
        print({ json: result, text: `wrote ${result.size} bytes to ${result.path}${resumed}` }, flags.json)
      }
    })

  clientOptions(program.command('export')
    .description('write the CAR file of content (its manifest and every chunk, as IPFS tools read them) to a file or stdout')
    .argument('<cid>', 'the content CID', cidArgument)
    .option('-o, --output <file>', 'write the CAR to this file (- for stdout) [default: stdout, unless it is a terminal]')
    .option('--force', 'write the CAR to a terminal')
    .option('--no-progress', 'never show the progress bar'))
    .action(async (cid: string, flags: ClientFlags & { output?: string, force?: boolean, progress: boolean, json?: boolean }) => {
      const result = await exportCar(await ApiClient.find(flags), {
        cid,
        output: flags.output,
        force: flags.force === true,
        progress: flags.progress && process.stderr.isTTY === true
      })
      if (result.path != null) {
        print({ json: result, text: `wrote the CAR of ${cid} (${result.bytes} bytes) to ${result.path}` }, flags.json)
      }
    })

  clientOptions(program.command('import')
    .description('import a CAR file of DDS content (or - for stdin) into the daemon, which checks and pins it; prints its root CIDs')
    .argument('<file>', 'the CAR file, or - to read stdin')
    .option('--no-progress', 'never show the progress bar'))
    .action(async (file: string, flags: ClientFlags & { progress: boolean, json?: boolean }) => {
      const result = await importCar(await ApiClient.find(flags), { file, progress: flags.progress && process.stderr.isTTY === true })
      print({ json: result, text: result.roots.join('\n') }, flags.json)
    })

  clientOptions(program.command('stat')
    .description('show the size, chunks, name, media type and metadata of content, without fetching it')
    .argument('<cid>', 'the content CID', cidArgument))
    .action(async (cid: string, flags: ClientFlags & { json?: boolean }) => {
      print(await commands.stat(await ApiClient.find(flags), cid), flags.json)
    })

  clientOptions(program.command('list')
    .description('list the files of a collection (a folder or an album): path, size, title, CID')
    .argument('<cid>', 'the collection\'s CID', cidArgument))
    .action(async (cid: string, flags: ClientFlags & { json?: boolean }) => {
      print(await commands.list(await ApiClient.find(flags), cid), flags.json)
    })

  clientOptions(program.command('ls')
    .description('list what this node shares, or what a peer or every connected peer shares')
    .addOption(new Option('--peer <id>', 'list that peer\'s catalog').conflicts('all').argParser(peerIdArgument))
    .addOption(new Option('--all', 'list this node\'s and every connected peer\'s catalog').conflicts('peer')))
    .action(async (flags: ClientFlags & { peer?: string, all?: boolean, json?: boolean }) => {
      print(await commands.ls(await ApiClient.find(flags), flags), flags.json)
    })

  clientOptions(program.command('pin')
    .description('fetch content into this node\'s store and keep it there; a bar on a terminal shows the fetch')
    .argument('<cid>', 'the content CID', cidArgument)
    .option('--no-progress', 'never show the progress bar'))
    .action(async (cid: string, flags: ClientFlags & { progress: boolean, json?: boolean }) => {
      const result = await pinWithProgress(await ApiClient.find(flags), cid, flags.progress && process.stderr.isTTY === true)
      print({ json: result.pin, text: formatPinned(result) }, flags.json)
    })

  clientOptions(program.command('pins')
    .description('list what this node pinned itself (published or pinned): name, size, whether complete'))
    .action(async (flags: ClientFlags & { json?: boolean }) => {
      print(await commands.pins(await ApiClient.find(flags)), flags.json)
    })

  clientOptions(program.command('replicas')
    .description('list what this node holds for other peers: for whom, since when, and the replica quota'))
    .action(async (flags: ClientFlags & { json?: boolean }) => {
      print(await commands.replicas(await ApiClient.find(flags)), flags.json)
    })

  clientOptions(program.command('drop')
    .description('stop holding a replica for another peer (its blocks go at the next gc)')
    .argument('<cid>', 'the replica\'s CID (`dds replicas` lists them)', cidArgument))
    .action(async (cid: string, flags: ClientFlags & { json?: boolean }) => {
      print(await commands.drop(await ApiClient.find(flags), cid), flags.json)
    })

  const repo = program.command('repo')
    .description('the daemon\'s store')
  clientOptions(repo.command('stat')
    .description('store size, what is pinned, what is held for others, and the replica quota per peer'))
    .action(async (flags: ClientFlags & { json?: boolean }) => {
      print(await commands.repoStat(await ApiClient.find(flags)), flags.json)
    })

  clientOptions(program.command('unpin')
    .description('stop keeping content (its blocks go at the next gc)')
    .argument('<cid>', 'the content CID', cidArgument))
    .action(async (cid: string, flags: ClientFlags & { json?: boolean }) => {
      print(await commands.unpin(await ApiClient.find(flags), cid), flags.json)
    })

  clientOptions(program.command('gc')
    .description('remove every stored block that no pin references'))
    .action(async (flags: ClientFlags & { json?: boolean }) => {
      print(await commands.gc(await ApiClient.find(flags)), flags.json)
    })

  clientOptions(program.command('peers')
    .description('list the connected peers'))
    .action(async (flags: ClientFlags & { json?: boolean }) => {
      print(await commands.peers(await ApiClient.find(flags)), flags.json)
    })

  clientOptions(program.command('connect')
    .description('connect the daemon to a peer, given one of its addresses (`dds id` on that node prints them)')
    .argument('<multiaddr>', 'the peer\'s address, ending in /p2p/<peer id>', peerAddrArgument))
    .action(async (address: string, flags: ClientFlags & { json?: boolean }) => {
      print(await commands.connect(await ApiClient.find(flags), address), flags.json)
    })

  clientOptions(program.command('id')
    .description('show the daemon\'s peer id, addresses and gateway URL'))
    .action(async (flags: ClientFlags & { json?: boolean }) => {
      print(await commands.id(await ApiClient.find(flags)), flags.json)
    })

  return program
}

/** Adds the options every command that talks to the daemon takes. */
function clientOptions (command: Command): Command {
  return command
    .option('--api <url>', 'the daemon\'s gateway URL [env DDS_API, default: read from <repo>/api]')
    .option('--repo <dir>', 'repo of the daemon to use [env DDS_REPO, default ~/.dds]')
    .option('--api-token <token>', 'Bearer token for a daemon on another machine [env DDS_API_TOKEN]')
    .option('--json', 'print machine-readable JSON')
}

function print (output: Output, json: boolean | undefined): void {
  process.stdout.write(json === true ? `${JSON.stringify(output.json, null, 2)}\n` : `${output.text}\n`)
}

function collect (value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value]
}

function collectMeta (value: string, previous: Array<[string, string]> = []): Array<[string, string]> {
  const at = value.indexOf('=')
  if (at < 0) {
    throw new InvalidArgumentError('expected key=value, such as title="My Song"')
  }
  // the key and value are checked with the rest of the description before the upload
  return [...previous, [value.slice(0, at), value.slice(at + 1)]]
}

/**
 * A CID argument in base58btc. Its error is a UsageError rather than
 * commander's InvalidArgumentError, whose "command-argument value '...' is
 * invalid for argument 'cid'" prefix would repeat the value the message
 * already names.
 */
function cidArgument (value: string): string {
  try {
    return cidToString(parseCid(value))
  } catch (err) {
    throw new UsageError(oneLine((err as Error).message), { cause: err })
  }
}

function peerIdArgument (value: string): string {
  try {
    return peerIdFromString(value).toString()
  } catch {
    throw new UsageError(`--peer "${oneLine(value).slice(0, 100)}" is not a peer id; \`dds peers\` lists the connected peers' ids (12D3KooW...)`)
  }
}

function peerAddrArgument (value: string): string {
  let components
  try {
    components = multiaddr(value).getComponents()
  } catch {
    throw new InvalidArgumentError('not a multiaddr; expected e.g. /ip4/192.168.1.20/tcp/4180/p2p/<peer id>')
  }
  if (!components.some(c => c.name === 'p2p')) {
    throw new InvalidArgumentError('it has no /p2p/<peer id> part; `dds id` on that node prints its full addresses')
  }
  return value
}

function packageVersion (): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }
    return pkg.version ?? '0.0.0'
  } catch {
    return '0.0.0'
  }
}
