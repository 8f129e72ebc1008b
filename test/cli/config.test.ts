/**
 * Where `dds daemon` takes its settings from: flags > environment > config
 * file > defaults, and the error a bad value gives.
 */
import { describe, it, expect, afterAll } from 'vitest'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { homedir } from 'node:os'
import { resolveDaemonConfig, parseHostPort } from '../../src/cli/config.js'
import { parseSize } from '../../src/cli/size.js'
import { UsageError, CliError } from '../../src/cli/errors.js'
import { cleanup, tempDir } from './harness.js'

const PEER = '12D3KooWMZf2YWUtMPJMb7zrv2qCA9idWtceGwA7AWJEWhSYtfC3'

describe('daemon config', () => {
  afterAll(cleanup)

  it('uses the defaults when nothing is set', async () => {
    const config = await resolveDaemonConfig({}, { HOME: homedir() })
    expect(config).toEqual({
      repo: join(homedir(), '.dds'),
      listen: ['/ip4/0.0.0.0/tcp/4180', '/ip4/0.0.0.0/udp/4181/quic-v1'],
      announce: [],
      bootstrap: [],
      nat: true,
      relayServer: false,
      gateway: { host: '127.0.0.1', port: 8180 },
      replicationFactor: 3,
      accept: 'any',
      replicaQuota: 1024 * 1024 * 1024,
      logLevel: 'info',
      logFormat: 'text'
    })
  })

  it('takes --announce, --no-nat and --relay-server over DDS_ANNOUNCE, DDS_NAT and DDS_RELAY_SERVER over the config file keys announce, nat and relayServer', async () => {
    const repo = await tempDir()
    await writeFile(join(repo, 'config.json'), JSON.stringify({ announce: '/dns4/dds.example.org/tcp/4180', nat: false, relayServer: true }))
    expect(await resolveDaemonConfig({ repo }, {})).toMatchObject({ announce: ['/dns4/dds.example.org/tcp/4180'], nat: false, relayServer: true })
    expect(await resolveDaemonConfig({ repo }, { DDS_ANNOUNCE: '/ip4/203.0.113.7/tcp/4180,/ip4/203.0.113.7/tcp/4181/ws', DDS_NAT: 'on', DDS_RELAY_SERVER: 'off' }))
      .toMatchObject({ announce: ['/ip4/203.0.113.7/tcp/4180', '/ip4/203.0.113.7/tcp/4181/ws'], nat: true, relayServer: false })
    expect(await resolveDaemonConfig({ repo, announce: ['/ip6/2001:db8::1/tcp/4180'], nat: false, relayServer: true }, { DDS_NAT: 'on', DDS_RELAY_SERVER: 'off' }))
      .toMatchObject({ announce: ['/ip6/2001:db8::1/tcp/4180'], nat: false, relayServer: true })
    await expect(resolveDaemonConfig({ repo, announce: ['/ip4/203.0.113.7/tcp/4180/p2p/' + PEER] }, {})).rejects.toThrow(/invalid --announce .*without \/p2p/)
    await expect(resolveDaemonConfig({ repo, announce: ['nonsense'] }, {})).rejects.toThrow('invalid --announce "nonsense": not a multiaddr')
    await expect(resolveDaemonConfig({ repo }, { DDS_NAT: 'maybe' })).rejects.toThrow('invalid environment variable DDS_NAT "maybe": expected on or off')
    await writeFile(join(repo, 'config.json'), '{"relayServer": "yes"}')
    await expect(resolveDaemonConfig({ repo }, {})).rejects.toThrow(`invalid "relayServer" in ${join(repo, 'config.json')}: expected true or false`)
  })

  it('takes flags over env over the config file', async () => {
    const repo = await tempDir()
    await writeFile(join(repo, 'config.json'), JSON.stringify({
      listen: '/ip4/127.0.0.1/tcp/5000',
      bootstrap: [`/ip4/127.0.0.1/tcp/5001/p2p/${PEER}`],
      gateway: '127.0.0.1:9000',
      apiToken: 'from-file',
      replicationFactor: 2
    }))
    const fromFile = await resolveDaemonConfig({ repo }, {})
    expect(fromFile).toEqual({
      repo,
      listen: ['/ip4/127.0.0.1/tcp/5000'],
      announce: [],
      bootstrap: [`/ip4/127.0.0.1/tcp/5001/p2p/${PEER}`],
      nat: true,
      relayServer: false,
      gateway: { host: '127.0.0.1', port: 9000 },
      apiToken: 'from-file',
      replicationFactor: 2,
      accept: 'any',
      replicaQuota: 1024 * 1024 * 1024,
      logLevel: 'info',
      logFormat: 'text'
    })
    const env = { DDS_REPO: repo, DDS_GATEWAY: '0.0.0.0:9001', DDS_LISTEN: '/ip4/127.0.0.1/tcp/5002,/ip4/127.0.0.1/tcp/5003', DDS_REPLICATION_FACTOR: '4', DDS_API_TOKEN: 'from-env' }
    const fromEnv = await resolveDaemonConfig({}, env)
    expect(fromEnv).toMatchObject({ repo, gateway: { host: '0.0.0.0', port: 9001 }, listen: ['/ip4/127.0.0.1/tcp/5002', '/ip4/127.0.0.1/tcp/5003'], replicationFactor: 4, apiToken: 'from-env', bootstrap: [`/ip4/127.0.0.1/tcp/5001/p2p/${PEER}`] })
    const fromFlags = await resolveDaemonConfig({ gateway: '[::1]:0', replicationFactor: '1', listen: ['/ip4/127.0.0.1/tcp/0'] }, env)
    expect(fromFlags).toMatchObject({ repo, gateway: { host: '::1', port: 0 }, replicationFactor: 1, listen: ['/ip4/127.0.0.1/tcp/0'], apiToken: 'from-env' })
  })

  it('reads --config instead of <repo>/config.json, and may set the repo there', async () => {
    const dir = await tempDir()
    await mkdir(join(dir, 'conf'))
    await writeFile(join(dir, 'conf', 'dds.json'), JSON.stringify({ repo: '../node', gateway: '127.0.0.1:9100' }))
    const config = await resolveDaemonConfig({ config: join(dir, 'conf', 'dds.json') }, {})
    expect(config).toMatchObject({ repo: join(dir, 'node'), gateway: { host: '127.0.0.1', port: 9100 } })
  })

  it('rejects bad values, naming where they came from', async () => {
    const repo = await tempDir()
    await expect(resolveDaemonConfig({ repo, replicationFactor: '0' }, {})).rejects.toThrow(UsageError)
    await expect(resolveDaemonConfig({ repo, listen: ['not-a-multiaddr'] }, {})).rejects.toThrow(/invalid --listen "not-a-multiaddr"/)
    await expect(resolveDaemonConfig({ repo, bootstrap: ['/ip4/127.0.0.1/tcp/1'] }, {})).rejects.toThrow(/no \/p2p\/<peer id>/)
    await expect(resolveDaemonConfig({ repo }, { DDS_GATEWAY: '127.0.0.1:70000' })).rejects.toThrow(/environment variable DDS_GATEWAY/)
    await expect(resolveDaemonConfig({ repo, config: join(repo, 'missing.json') }, {})).rejects.toThrow(/config file not found/)
    await writeFile(join(repo, 'config.json'), '{"replicationFactor": 1.5}')
    await expect(resolveDaemonConfig({ repo }, {})).rejects.toThrow(CliError)
    await writeFile(join(repo, 'config.json'), '{ not json')
    await expect(resolveDaemonConfig({ repo }, {})).rejects.toThrow(/not valid JSON/)
    await writeFile(join(repo, 'config.json'), '{"repo": "/elsewhere"}')
    await expect(resolveDaemonConfig({ repo }, {})).rejects.toThrow(/unknown key "repo"/)
  })

  it('takes TCP, WebSockets and QUIC listen addresses only, and names a config value of the wrong type', async () => {
    const repo = await tempDir()
    for (const listen of ['/ip4/127.0.0.1/udp/0', '/ip4/127.0.0.1/tcp/0/wss', '/ip4/127.0.0.1', '/ip4/127.0.0.1/udp/0/quic']) {
      await expect(resolveDaemonConfig({ repo, listen: [listen] }, {})).rejects.toThrow(`invalid --listen "${listen}": a DDS node listens on TCP, WebSockets or QUIC`)
    }
    await expect(resolveDaemonConfig({ repo }, { DDS_LISTEN: '/ip6/::1/udp/1' })).rejects.toThrow(/environment variable DDS_LISTEN .*TCP, WebSockets or QUIC/)
    const ok = await resolveDaemonConfig({ repo, listen: ['/ip6/::1/tcp/0', '/dns4/localhost/tcp/4180', '/ip4/127.0.0.1/tcp/0/ws', '/ip4/127.0.0.1/udp/0/quic-v1'] }, {})
    expect(ok.listen).toEqual(['/ip6/::1/tcp/0', '/dns4/localhost/tcp/4180', '/ip4/127.0.0.1/tcp/0/ws', '/ip4/127.0.0.1/udp/0/quic-v1'])
    await writeFile(join(repo, 'config.json'), '{"replicationFactor": true}')
    await expect(resolveDaemonConfig({ repo }, {})).rejects.toThrow(`invalid "replicationFactor" in ${join(repo, 'config.json')} true: expected a whole number from 1 to 64`)
  })

  it('takes --accept and --replica-quota over DDS_ACCEPT and DDS_REPLICA_QUOTA over the config file keys accept and replicaQuota', async () => {
    const repo = await tempDir()
    await writeFile(join(repo, 'config.json'), JSON.stringify({ accept: [PEER], replicaQuota: '10GB' }))
    expect(await resolveDaemonConfig({ repo }, {})).toMatchObject({ accept: [PEER], replicaQuota: 10e9 })
    await writeFile(join(repo, 'config.json'), JSON.stringify({ accept: 'none', replicaQuota: 5000 }))
    expect(await resolveDaemonConfig({ repo }, {})).toMatchObject({ accept: 'none', replicaQuota: 5000 })
    const env = { DDS_ACCEPT: `${PEER}, ${PEER}`, DDS_REPLICA_QUOTA: '512MiB' }
    expect(await resolveDaemonConfig({ repo }, env)).toMatchObject({ accept: [PEER, PEER], replicaQuota: 512 * 1024 * 1024 })
    expect(await resolveDaemonConfig({ repo, accept: 'any', replicaQuota: '0' }, env)).toMatchObject({ accept: 'any', replicaQuota: 0 })
  })

  it('takes --log-level and --log-format over DDS_LOG_LEVEL and DDS_LOG_FORMAT over the config file keys logLevel and logFormat', async () => {
    const repo = await tempDir()
    await writeFile(join(repo, 'config.json'), JSON.stringify({ logLevel: 'debug', logFormat: 'json' }))
    expect(await resolveDaemonConfig({ repo }, {})).toMatchObject({ logLevel: 'debug', logFormat: 'json' })
    const env = { DDS_LOG_LEVEL: 'warn', DDS_LOG_FORMAT: 'text' }
    expect(await resolveDaemonConfig({ repo }, env)).toMatchObject({ logLevel: 'warn', logFormat: 'text' })
    expect(await resolveDaemonConfig({ repo, logLevel: 'error', logFormat: 'json' }, env)).toMatchObject({ logLevel: 'error', logFormat: 'json' })
    await expect(resolveDaemonConfig({ repo }, { DDS_LOG_LEVEL: 'verbose' })).rejects.toThrow('environment variable DDS_LOG_LEVEL must be one of error, warn, info, debug, got "verbose"')
    await writeFile(join(repo, 'config.json'), JSON.stringify({ logFormat: 'yaml' }))
    await expect(resolveDaemonConfig({ repo }, {})).rejects.toThrow(CliError)
  })

  it('refuses a bad --accept or --replica-quota, naming where it came from', async () => {
    const repo = await tempDir()
    await expect(resolveDaemonConfig({ repo, accept: 'some' }, {})).rejects.toThrow(UsageError)
    await expect(resolveDaemonConfig({ repo, accept: 'some' }, {})).rejects.toThrow('invalid --accept: "some" is not a peer id; expected any, none, or peer ids (12D3KooW...) separated by commas')
    await expect(resolveDaemonConfig({ repo, replicaQuota: '10 parsecs' }, {})).rejects.toThrow('invalid --replica-quota "10 parsecs": expected a size such as 512MiB, 10GB or 1073741824 (bytes)')
    await expect(resolveDaemonConfig({ repo }, { DDS_REPLICA_QUOTA: '-1' })).rejects.toThrow(/environment variable DDS_REPLICA_QUOTA/)
    await writeFile(join(repo, 'config.json'), JSON.stringify({ replicaQuota: true }))
    await expect(resolveDaemonConfig({ repo }, {})).rejects.toThrow(`invalid "replicaQuota" in ${join(repo, 'config.json')} true: expected a size`)
    await writeFile(join(repo, 'config.json'), JSON.stringify({ accept: [] }))
    await expect(resolveDaemonConfig({ repo }, {})).rejects.toThrow(/invalid "accept" in .*expected any, none, or peer ids/)
  })

  it('parses sizes in decimal and binary units', () => {
    expect(parseSize('0')).toBe(0)
    expect(parseSize('1048576')).toBe(1048576)
    expect(parseSize('512MiB')).toBe(512 * 2 ** 20)
    expect(parseSize('1.5 GiB')).toBe(1.5 * 2 ** 30)
    expect(parseSize('10GB')).toBe(10e9)
    expect(parseSize('4kb')).toBe(4000)
    expect(parseSize('100B')).toBe(100)
    for (const bad of ['', 'MiB', '-1', '1 XB', '1e3', '10 GiB extra', '99999999999999TiB']) {
      expect(parseSize(bad)).toBeUndefined()
    }
  })

  it('parses HOST:PORT forms', () => {
    expect(parseHostPort('localhost:8180', 'x')).toEqual({ host: 'localhost', port: 8180 })
    expect(parseHostPort('[::1]:80', 'x')).toEqual({ host: '::1', port: 80 })
    for (const bad of ['8180', ':8180', '127.0.0.1:', '127.0.0.1:99999', 'a b:1', '::1:80']) {
      expect(() => parseHostPort(bad, 'x')).toThrow(CliError)
    }
  })

  it('takes bandwidth limits as rates from flags over env over the config file, and refuses bad ones as usage errors', async () => {
    const repo = await tempDir()
    await writeFile(join(repo, 'config.json'), JSON.stringify({ maxUpload: '5MiB', maxDownload: 1048576, maxUploadPerPeer: '1MB/s' }))
    expect((await resolveDaemonConfig({ repo }, {})).bandwidth).toEqual({ upload: 5 * 1024 * 1024, download: 1048576, uploadPerPeer: 1_000_000 })
    const env = { DDS_MAX_UPLOAD: '2MiB', DDS_MAX_DOWNLOAD: '512KiB' }
    expect((await resolveDaemonConfig({ repo }, env)).bandwidth).toEqual({ upload: 2 * 1024 * 1024, download: 512 * 1024, uploadPerPeer: 1_000_000 })
    const flags = { repo, maxUpload: '1.5MiB', maxUploadPerPeer: '64KiB' }
    expect((await resolveDaemonConfig(flags, env)).bandwidth).toEqual({ upload: 1.5 * 1024 * 1024, download: 512 * 1024, uploadPerPeer: 65536 })

    for (const [bad, message] of [['fast', /invalid --max-upload "fast": expected bytes per second such as 5MiB/], ['5 parsecs', /expected bytes per second/], ['-1MiB', /expected bytes per second/], ['1KiB', /at least 64KiB/], ['', /expected bytes per second/]] as const) {
      const err = await resolveDaemonConfig({ repo, maxUpload: bad }, {}).catch((e: Error) => e)
      expect(err).toBeInstanceOf(UsageError)
      expect((err as Error).message).toMatch(message)
    }
    const fromEnv = await resolveDaemonConfig({ repo }, { DDS_MAX_DOWNLOAD: '10QB' }).catch((e: Error) => e)
    expect(fromEnv).toBeInstanceOf(CliError)
    expect((fromEnv as Error).message).toMatch(/environment variable DDS_MAX_DOWNLOAD "10QB"/)
    await writeFile(join(repo, 'config.json'), JSON.stringify({ maxUploadPerPeer: true }))
    const fromFile = await resolveDaemonConfig({ repo }, {}).catch((e: Error) => e)
    expect((fromFile as Error).message).toMatch(/"maxUploadPerPeer" in .*config.json true/)
  })
})
