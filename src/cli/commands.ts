/**
 * The client commands that ask the daemon something and print the answer:
 * `stat`, `ls`, `pins`, `replicas`, `drop`, `repo stat`, `unpin`, `gc`, `peers`,
 * `connect`, `id`. With `--json` each
 * prints the daemon's JSON answer; otherwise lines and tables for people.
 *
 * @module
 */

import { DaemonError } from './errors.js'
import { formatBytes, formatFields, formatTable } from './format.js'
import type { ApiClient } from './client.js'
import type { CatalogEntry, ContentStat } from '../catalog/index.js'

/** `GET /api/v1/stat/<cid>`: the core's ContentStat as JSON. */
export type ContentStatJson = ContentStat

/** One entry of a catalog, as the core lists it. */
export type CatalogEntryJson = CatalogEntry

/** `GET /api/v1/catalog?all=1`. */
export interface AllCatalogsJson {
  local: CatalogEntryJson[]
  peers: Array<{ peer: string, entries: CatalogEntryJson[], error?: string | { message?: string } }>
}

/** A command's result: what `--json` prints, and the lines for people. */
export interface Output {
  json: unknown
  text: string
}

export async function stat (client: ApiClient, cid: string): Promise<Output> {
  const s = await client.json<ContentStatJson>('GET', `/api/v1/stat/${encodeURIComponent(cid)}`, cid)
  const text = formatFields([
    ['cid', s.cid],
    ['size', `${formatBytes(s.size)} (${s.size} bytes)`],
    ['chunks', s.chunks],
    ['name', s.name],
    ['media type', s.mediaType],
    ...(s.collection != null ? [['entries', `${s.collection.entries} files, ${formatBytes(s.collection.size)} (dds list ${s.cid} lists them)`] as [string, string]] : []),
    ...Object.entries(s.metadata ?? {}).map(([key, value]): [string, string] => [`meta ${key}`, value]),
    ['local', s.local ? 'yes, every block is in this node\'s store' : 'no'],
    ['pinned', s.pin ?? 'no']
  ])
  return { json: s, text }
}

/** The entries of a collection, as `GET /api/v1/list/<cid>` gives them. */
export interface CollectionListJson {
  cid: string
  entries: Array<{ path: string, cid: string, size: number, name?: string, mediaType?: string, metadata?: Record<string, string> }>
}

/** `dds list <cid>`: the files of a collection (a folder, an album). */
export async function list (client: ApiClient, cid: string): Promise<Output> {
  const listed = await client.json<CollectionListJson>('GET', `/api/v1/list/${encodeURIComponent(cid)}`, cid)
  const text = formatTable(['PATH', 'SIZE', 'TITLE', 'CID'], listed.entries.map(e => [e.path, formatBytes(e.size), e.metadata?.title ?? '', e.cid]), [0, 1])
  return { json: listed, text: `${text}\n${count(listed.entries.length, 'file')}` }
}

export async function ls (client: ApiClient, options: { peer?: string, all?: boolean }): Promise<Output> {
  if (options.all === true) {
    const all = await client.json<AllCatalogsJson>('GET', '/api/v1/catalog?all=1')
    const sections = [`local: ${count(all.local.length)}`, ...(all.local.length > 0 ? [catalogTable(all.local)] : [])]
    for (const peer of all.peers) {
      const error = typeof peer.error === 'string' ? peer.error : peer.error?.message
      sections.push('')
      if (error != null) {
        sections.push(`peer ${peer.peer}: cannot list (${error})`)
        continue
      }
      sections.push(`peer ${peer.peer}: ${count(peer.entries.length)}`)
      if (peer.entries.length > 0) {
        sections.push(catalogTable(peer.entries))
      }
    }
    if (all.peers.length === 0) {
      sections.push('', 'no connected peers')
    }
    return { json: all, text: sections.join('\n') }
  }
  const path = options.peer != null ? `/api/v1/catalog?peer=${encodeURIComponent(options.peer)}` : '/api/v1/catalog'
  const catalog = await client.json<{ entries: CatalogEntryJson[] }>('GET', path, options.peer != null ? `peer ${options.peer}` : undefined)
    .catch((err: unknown) => {
      // 504: the peer did not answer in time; 500: it could not be reached
      if (options.peer != null && err instanceof DaemonError && (err.status === 504 || err.status === 500)) {
        throw new DaemonError(`${err.message}; \`dds peers\` lists the connected peers, \`dds connect <multiaddr>\` connects to one`, err.status, { cause: err })
      }
      throw err
    })
  if (catalog.entries.length > 0) {
    return { json: catalog, text: catalogTable(catalog.entries) }
  }
  if (options.peer != null) {
    return { json: catalog, text: `peer ${options.peer} shares nothing` }
  }
  // replicas held for others are not shared, but they fill the store: say so
  const held = await client.json<PinJson[]>('GET', '/api/v1/replicas').catch(() => [])
  const holds = held.length > 0 ? `; it holds ${count(held.length, 'replica')} (${formatBytes(held.reduce((sum, pin) => sum + pin.size, 0))}) for other peers, listed by \`dds replicas\`` : ''
  return { json: catalog, text: `this node shares nothing yet${holds}; add content with \`dds publish FILE\`` }
}

function catalogTable (entries: CatalogEntryJson[]): string {
  return formatTable(['TITLE', 'ARTIST', 'SIZE', 'CID'], entries.map(e => [
    e.metadata?.title ?? e.name ?? '-',
    e.metadata?.artist ?? '-',
    formatBytes(e.size),
    e.cid
  ]))
}

function count (n: number, noun = 'item'): string {
  return n === 1 ? `1 ${noun}` : `${n} ${noun}s`
}

/** A pin as `GET /api/v1/pins` lists it. */
export interface PinJson {
  cid: string
  kind: 'local' | 'replica'
  state: 'complete' | 'fetching'
  size: number
  name?: string
  for?: string
  pinnedAt: number
  replication?: { target: number, live: string[], lastCheck: number, repairing: boolean, lastError?: string }
}

/** `GET /api/v1/repo/stat`. */
export interface RepoStatJson {
  store: { blocks: number, bytes: number }
  pinned: { count: number, bytes: number, fetching: number }
  replicas: { count: number, bytes: number, fetching: number }
  quota: { accept: 'any' | 'none' | string[], bytes: number, used: number, perPeerShare: number, perPeerBytes: number }
  peers: Array<{ peer: string, replicas: number, bytes: number }>
}

/** `1733160000000` -> `2024-12-02 17:20` (UTC). */
function formatTime (ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 16)
}

function state (pin: PinJson): string {
  return pin.state === 'complete' ? 'complete' : 'incomplete (fetching)'
}

/** `dds pins`: what this node pinned itself (published or pinned), not the replicas it holds for others. */
export async function pins (client: ApiClient): Promise<Output> {
  const all = await client.json<PinJson[]>('GET', '/api/v1/pins')
  const own = all.filter(pin => pin.kind === 'local')
  if (own.length === 0) {
    return { json: own, text: 'this node has pinned nothing; `dds publish FILE` or `dds pin CID` pins content' }
  }
  const table = formatTable(['NAME', 'SIZE', 'STATE', 'COPIES', 'PINNED (UTC)', 'CID'], own.map(pin => [
    pin.name ?? '-',
    formatBytes(pin.size),
    state(pin),
    pin.replication != null ? `${pin.replication.live.length}/${pin.replication.target}${pin.replication.repairing ? ' (asking)' : ''}` : '-',
    formatTime(pin.pinnedAt),
    pin.cid
  ]))
  // why content has fewer copies than it should: the last peer that refused, and its reason
  const short = own.filter(pin => pin.replication != null && pin.replication.live.length < pin.replication.target && pin.replication.lastError != null)
  const notes = short.map(pin => `${pin.cid}: ${pin.replication!.lastError!}`)
  return { json: own, text: [table, ...(notes.length > 0 ? ['', 'copies missing, last refusal:', ...notes] : [])].join('\n') }
}

/** `dds replicas`: what this node holds for other peers, for whom and since when, and the quota. */
export async function replicas (client: ApiClient): Promise<Output> {
  const [held, stat] = await Promise.all([
    client.json<PinJson[]>('GET', '/api/v1/replicas'),
    client.json<RepoStatJson>('GET', '/api/v1/repo/stat')
  ])
  const quota = `${formatBytes(stat.quota.used)} of the ${formatBytes(stat.quota.bytes)} replica quota used; accepts replicas from ${acceptText(stat.quota.accept)}`
  const text = held.length > 0
    ? [
        formatTable(['NAME', 'SIZE', 'STATE', 'SINCE (UTC)', 'FOR PEER', 'CID'], held.map(pin => [pin.name ?? '-', formatBytes(pin.size), state(pin), formatTime(pin.pinnedAt), pin.for ?? '-', pin.cid]), [4]),
        '',
        `${count(held.length, 'replica')} held for other peers; ${quota}`,
        '`dds drop CID` drops one'
      ].join('\n')
    : `this node holds nothing for other peers; ${quota}`
  return { json: held, text }
}

/** `dds drop <cid>`: stops holding a replica. */
export async function drop (client: ApiClient, cid: string): Promise<Output> {
  const r = await client.json<{ dropped: boolean }>('POST', `/api/v1/drop/${encodeURIComponent(cid)}`, cid)
  return { json: { cid, ...r }, text: `dropped the replica of ${cid}: this node no longer serves it; \`dds gc\` removes its blocks` }
}

/** `dds repo stat`: the store, what is pinned, what is held for others, the quota in all and per peer. */
export async function repoStat (client: ApiClient): Promise<Output> {
  const s = await client.json<RepoStatJson>('GET', '/api/v1/repo/stat')
  const { quota } = s
  const percent = quota.bytes > 0 ? ` (${(100 * quota.used / quota.bytes).toFixed(1)}%)` : ''
  const fetching = (n: number): string => n > 0 ? `, ${n} still fetching` : ''
  const fields = formatFields([
    ['store', `${formatBytes(s.store.bytes)} (${s.store.bytes} bytes) in ${count(s.store.blocks, 'block')}`],
    ['pinned', `${count(s.pinned.count, 'item')}, ${formatBytes(s.pinned.bytes)}${fetching(s.pinned.fetching)}`],
    ['held for others', `${count(s.replicas.count, 'replica')}, ${formatBytes(s.replicas.bytes)}${fetching(s.replicas.fetching)}`],
    ['replica quota', `${formatBytes(quota.used)} of ${formatBytes(quota.bytes)} used${percent}; one peer may use ${formatBytes(quota.perPeerBytes)}`],
    ['replicas from', acceptText(quota.accept)]
  ])
  const peers = s.peers.length > 0
    ? '\n\n' + formatTable(['PEER', 'REPLICAS', 'SIZE', 'OF ITS SHARE'], s.peers.map(p => [
      p.peer,
      String(p.replicas),
      formatBytes(p.bytes),
      quota.perPeerBytes > 0 ? `${(100 * p.bytes / quota.perPeerBytes).toFixed(1)}%` : '-'
    ]), [0])
    : ''
  return { json: s, text: fields + peers }
}

/** Whose replicas the daemon accepts, for people. */
function acceptText (accept: RepoStatJson['quota']['accept']): string {
  if (accept === 'any') {
    return 'any peer'
  }
  if (accept === 'none') {
    return 'no peer (--accept none)'
  }
  return `${count(accept.length, 'listed peer')} only`
}

export async function unpin (client: ApiClient, cid: string): Promise<Output> {
  const r = await client.json<{ removed: boolean }>('POST', `/api/v1/unpin/${encodeURIComponent(cid)}`, cid)
  return { json: r, text: r.removed ? `unpinned ${cid}; \`dds gc\` removes its blocks` : `${cid} was not pinned` }
}

export async function gc (client: ApiClient): Promise<Output> {
  const r = await client.json<{ blocksRemoved: number, bytesRemoved: number, blocksKept: number }>('POST', '/api/v1/gc')
  return { json: r, text: `removed ${r.blocksRemoved} blocks (${formatBytes(r.bytesRemoved)}), kept ${r.blocksKept}` }
}

/** `direct`, `relayed`, or both when a peer has connections of each kind. */
function pathOf (connections: Array<{ relayed: boolean }>): string {
  const kinds = new Set<string>(connections.map(c => c.relayed ? 'relayed' : 'direct'))
  return ['direct', 'relayed'].filter(k => kinds.has(k)).join(', ') || '-'
}

export async function peers (client: ApiClient): Promise<Output> {
  const list = await client.json<Array<{ peer: string, addrs: string[], connections?: Array<{ addr: string, relayed: boolean }> }>>('GET', '/api/v1/peers')
  const text = list.length > 0
    ? formatTable(['PEER', 'PATH', 'ADDRESS'], list.map(p => [p.peer, pathOf(p.connections ?? []), p.addrs.join(' ')]), [0])
    : 'no connected peers'
  return { json: list, text }
}

export async function connect (client: ApiClient, address: string): Promise<Output> {
  const r = await client.json<{ peer?: string }>('POST', `/api/v1/connect?addr=${encodeURIComponent(address)}`)
  return { json: r, text: `connected to ${r.peer ?? address}` }
}

export async function id (client: ApiClient): Promise<Output> {
  const info = await client.json<{ peer: string, addrs: string[], gateway: string }>('GET', '/api/v1/id')
  const text = formatFields([
    ['peer id', info.peer],
    ...info.addrs.map((addr): [string, string] => ['address', addr]),
    ['gateway', info.gateway]
  ])
  return { json: info, text }
}
