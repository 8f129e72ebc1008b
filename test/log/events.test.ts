/**
 * What a node logs: each event an operator needs (start and stop, peers
 * connecting and leaving, publish, pin, replicas accepted, refused and
 * stored, repairs, bans, gc) writes its line through the logger given to
 * `Dds.create`, at `info` (a ban at `warn`), and no per-chunk line is
 * written above `debug`. Real nodes over TCP on 127.0.0.1; the sink is
 * `streamLogger` writing JSON lines into an array.
 */
import { describe, it, expect, afterAll } from 'vitest'
import { peerIdFromString } from '@libp2p/peer-id'
import { parseCid, streamLogger, type LogLevel } from '../../src/index.js'
import { Cluster } from '../utils/cluster.js'
import { waitFor } from '../utils/wait.js'
import { chunkCid, chunkOf, corrupt, pseudoRandomBytes } from '../utils/content.js'

interface Line { time: string, level: LogLevel, component: string, msg: string, [field: string]: unknown }

/** A logger that keeps every line it writes, parsed. */
function collecting (level: LogLevel = 'debug'): { logger: ReturnType<typeof streamLogger>, lines: Line[] } {
  const lines: Line[] = []
  return { logger: streamLogger({ level, format: 'json', write: (line) => { lines.push(JSON.parse(line) as Line) } }), lines }
}

function find (lines: Line[], msg: string, fields: Record<string, unknown> = {}): Line | undefined {
  return lines.find(l => l.msg === msg && Object.entries(fields).every(([k, v]) => l[k] === v))
}

async function waitLine (lines: Line[], msg: string, fields: Record<string, unknown> = {}): Promise<Line> {
  await waitFor(() => find(lines, msg, fields) != null, `a "${msg}" line ${JSON.stringify(fields)}`)
  return find(lines, msg, fields)!
}

describe('the events a node logs', () => {
  const cluster = new Cluster()
  afterAll(async () => { await cluster.stop() })

  it('start, peers, publish, replicas, repair, pin, gc and stop each write a line', async () => {
    const a = collecting()
    const b = collecting()
    const c = collecting()
    const publisher = await cluster.node({ logger: a.logger, replication: { factor: 2 } })
    const started = await waitLine(a.lines, 'node started', { peer: publisher.peerId })
    expect(started.level).toBe('info')
    expect(started.component).toBe('dds:node')
    expect(String(started.addrs)).toContain('/ip4/127.0.0.1/tcp/')

    // a node that refuses replicas, then one that accepts them
    const refuser = await cluster.node({ logger: c.logger, bootstrap: publisher.getMultiaddrs(), replication: { accept: 'none' } })
    await waitLine(a.lines, 'peer connected', { peer: refuser.peerId })
    const data = pseudoRandomBytes(3 * 262144, 81)
    const cid = await publisher.publish(data, { name: 'song.wav' })
    const published = await waitLine(a.lines, 'content published', { cid })
    expect(published).toMatchObject({ level: 'info', component: 'dds:publish', name: 'song.wav', size: data.byteLength, chunks: 3 })
    const refused = await waitLine(c.lines, 'replica refused', { cid, from: publisher.peerId })
    expect(refused.level).toBe('info')
    expect(String(refused.reason)).toMatch(/accept/)
    await waitLine(a.lines, 'repair started', { cid })
    await waitLine(a.lines, 'repair finished', { cid })

    const holder = await cluster.node({ logger: b.logger, bootstrap: publisher.getMultiaddrs() })
    await waitLine(b.lines, 'peer connected', { peer: publisher.peerId })
    publisher.replication.replicate(parseCid(cid))
    await waitLine(b.lines, 'replica accepted', { cid, from: publisher.peerId })
    const stored = await waitLine(b.lines, 'replica stored', { cid, for: publisher.peerId })
    expect(stored).toMatchObject({ level: 'info', component: 'dds:replication', size: data.byteLength })

    // a pin of other content, then gc
    const other = await publisher.publish(pseudoRandomBytes(262144, 82))
    await holder.pin(other)
    await waitLine(b.lines, 'pinned', { cid: other })
    await holder.unpin(other)
    await holder.gc()
    const gc = await waitLine(b.lines, 'gc')
    expect(gc.blocksRemoved).toBeGreaterThan(0)

    // nothing per chunk or per request above debug
    for (const lines of [a.lines, b.lines, c.lines]) {
      const chatty = lines.filter(l => l.level !== 'debug' && /chunk|request/i.test(l.msg))
      expect(chatty).toEqual([])
    }

    await holder.stop()
    await waitLine(a.lines, 'peer disconnected', { peer: holder.peerId })
    await waitLine(b.lines, 'node stopped')
  })

  it('a ban writes a warn line with its reason', async () => {
    const v = collecting('info')
    const victim = await cluster.node({ logger: v.logger })
    const liar = await cluster.node({ bootstrap: victim.getMultiaddrs() })
    const data = pseudoRandomBytes(262144, 83)
    const lie = chunkCid(data, 0)
    await liar.storage.put(lie, corrupt(chunkOf(data, 0)))
    await expect(victim.network.retrieveBlock(peerIdFromString(liar.peerId), lie)).rejects.toMatchObject({ name: 'IntegrityError' })
    const ban = await waitLine(v.lines, 'peer banned', { peer: liar.peerId })
    expect(ban.level).toBe('warn')
    expect(ban.component).toBe('dds:network')
    expect(String(ban.reason)).toMatch(/do not match/)
    // a logger at info writes no debug line
    expect(v.lines.filter(l => l.level === 'debug')).toEqual([])
  })
})

describe('streamLogger', () => {
  it('writes text lines with key=value fields, quoting values with spaces, and refuses unknown levels and formats', () => {
    const lines: string[] = []
    const logger = streamLogger({ level: 'warn', write: (line) => { lines.push(line) }, now: () => Date.UTC(2026, 0, 2, 3, 4, 5) })
    const log = logger.forComponent('dds:test') as unknown as { write: (level: LogLevel, msg: string, fields?: Record<string, unknown>) => void }
    log.write('info', 'hidden')
    log.write('warn', 'replica refused', { cid: 'zb2rh', reason: 'quota is full', n: 3, skipped: undefined })
    expect(lines).toEqual(['2026-01-02T03:04:05.000Z WARN  dds:test replica refused cid=zb2rh reason="quota is full" n=3'])
    expect(() => streamLogger({ level: 'loud' as LogLevel })).toThrow(/level must be one of/)
    expect(() => streamLogger({ format: 'xml' as 'text' })).toThrow(/format must be one of/)
  })
})
