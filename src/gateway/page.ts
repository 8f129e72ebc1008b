import { createHash } from 'node:crypto'
import type { CollectionEntryInfo } from '../dds.js'
import type { PinInfo } from '../replication/index.js'
import type { CatalogEntry, PeerCatalog } from './types.js'

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

/** Text made safe for HTML element content and quoted attribute values. */
export function escapeHtml (text: string): string {
  return text.replace(/[&<>"']/g, c => ESCAPES[c]!)
}

/** A size in bytes for people: 1.5 MiB. */
export function formatSize (bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`
}

/**
 * The page's one script: a track that ends starts the next of its album.
 * The page's CSP allows this script alone, by its hash.
 */
const ALBUM_SCRIPT = "for(const l of document.querySelectorAll('ol.album')){const a=[...l.querySelectorAll('audio')];a.forEach((x,i)=>x.addEventListener('ended',()=>{if(a[i+1])a[i+1].play()}))}"

/** The `Content-Security-Policy` of the page: nothing but its own media, inline style and the album script. */
export const PAGE_CSP = `default-src 'none'; media-src 'self'; style-src 'unsafe-inline'; script-src 'sha256-${createHash('sha256').update(ALBUM_SCRIPT).digest('base64')}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`

function isAudio (entry: CatalogEntry): boolean {
  return /^audio\//i.test(entry.mediaType ?? '')
}


/** The tracks of an album (or the files of a folder), each playable, in order. */
function trackList (collection: string, tracks: CollectionEntryInfo[]): string {
  const items = tracks.map(track => {
    const src = `/dds/${encodeURIComponent(collection)}/${track.path.split('/').map(encodeURIComponent).join('/')}`
    const title = track.metadata?.title ?? track.path
    const player = /^audio\//i.test(track.mediaType ?? '') ? ` <audio controls preload="none" src="${escapeHtml(src)}"></audio>` : ''
    return `<li><span class="track">${escapeHtml(title)}</span> <a href="${escapeHtml(src)}?download=1">download</a>${player}</li>`
  })
  return `<tr class="tracks"><td colspan="5"><ol class="album" data-cid="${escapeHtml(collection)}">
${items.join('\n')}
</ol></td></tr>`
}

function row (entry: CatalogEntry, albums?: Map<string, CollectionEntryInfo[]>): string {
  const tracks = albums?.get(entry.cid)
  if (tracks != null) {
    return `<tr data-cid="${escapeHtml(entry.cid)}" class="collection">
<td class="title">${escapeHtml(entry.metadata.title ?? entry.name ?? entry.cid)}</td>
<td class="artist">${escapeHtml(entry.metadata.artist ?? '')}</td>
<td class="size">${escapeHtml(`${tracks.length} ${tracks.length === 1 ? 'file' : 'files'}, ${formatSize(tracks.reduce((sum, t) => sum + t.size, 0))}`)}</td>
<td></td>
<td></td>
</tr>
${trackList(entry.cid, tracks)}`
  }
  const title = entry.metadata.title ?? entry.name ?? entry.cid
  const artist = entry.metadata.artist ?? ''
  // a CID is base58btc text, but it came from a peer: escape it like the rest
  const cid = escapeHtml(entry.cid)
  const player = isAudio(entry)
    ? `<audio controls preload="none" src="/dds/${encodeURIComponent(entry.cid)}"></audio>`
    : ''
  return `<tr data-cid="${cid}">
<td class="title">${escapeHtml(title)}</td>
<td class="artist">${escapeHtml(artist)}</td>
<td class="size">${escapeHtml(formatSize(entry.size))}</td>
<td>${player}</td>
<td><a href="/dds/${encodeURIComponent(entry.cid)}?download=1">download</a></td>
</tr>`
}

function table (entries: CatalogEntry[], albums?: Map<string, CollectionEntryInfo[]>): string {
  if (entries.length === 0) {
    return '<p class="empty">Nothing shared.</p>'
  }
  return `<table>
<thead><tr><th>Title</th><th>Artist</th><th>Size</th><th></th><th></th></tr></thead>
<tbody>
${entries.map(e => row(e, albums)).join('\n')}
</tbody>
</table>`
}

/** What the page shows. */
export interface PageContent {
  peer: string
  local: CatalogEntry[]
  peers: PeerCatalog[]
  /** Replicas this node holds for other peers (not part of what it shares). */
  held?: PinInfo[]
  /** The tracks (entries) of the albums and folders listed, by collection CID. */
  albums?: Map<string, CollectionEntryInfo[]>
}

function heldRow (pin: PinInfo): string {
  const cid = escapeHtml(pin.cid)
  return `<tr data-cid="${cid}">
<td class="name">${escapeHtml(pin.name ?? '-')}</td>
<td class="size">${escapeHtml(formatSize(pin.size))}</td>
<td class="for"><code>${escapeHtml(pin.for ?? '-')}</code></td>
<td class="state">${pin.state === 'complete' ? 'complete' : 'fetching'}</td>
<td class="since">${escapeHtml(new Date(pin.pinnedAt).toISOString().replace('T', ' ').slice(0, 16))} UTC</td>
<td><code>${cid}</code></td>
</tr>`
}

/** The replicas held for others: what they are, for whom, and how much room they take. */
function heldSection (held: PinInfo[]): string {
  const total = held.reduce((sum, pin) => sum + pin.size, 0)
  const body = held.length === 0
    ? '<p class="empty">Nothing held for other peers.</p>'
    : `<p>${held.length} ${held.length === 1 ? 'replica' : 'replicas'}, ${escapeHtml(formatSize(total))}. This node stores and serves them so other peers' content keeps its copies; they are not part of what it shares.</p>
<table>
<thead><tr><th>Name</th><th>Size</th><th>For peer</th><th>State</th><th>Since</th><th>CID</th></tr></thead>
<tbody>
${held.map(heldRow).join('\n')}
</tbody>
</table>`
  return `<section class="held">
<h2>Held for other peers</h2>
${body}
</section>`
}

/** The `/` page: this node's catalog, the replicas it holds for others, and each connected peer's catalog, audio playable in place. */
export function renderPage (content: PageContent): string {
  const peers = content.peers.map(p => `<section class="peer" data-peer="${escapeHtml(p.peer)}">
<h2>Peer <code>${escapeHtml(p.peer)}</code></h2>
${p.error != null ? `<p class="error">${escapeHtml(p.error.message)}</p>` : ''}
${table(p.entries, content.albums)}
</section>`).join('\n')
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>DDS node ${escapeHtml(content.peer)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 0.3em 0.6em; border-bottom: 1px solid #ddd; }
code { font-size: 0.9em; }
.error { color: #a00; }
</style>
</head>
<body>
<h1>DDS node <code>${escapeHtml(content.peer)}</code></h1>
<section class="local">
<h2>This node</h2>
${table(content.local, content.albums)}
</section>
${content.held != null ? heldSection(content.held) : ''}
${content.peers.length === 0 ? '<p class="empty">No connected peers.</p>' : peers}
${content.albums != null && content.albums.size > 0 ? `<script>${ALBUM_SCRIPT}</script>\n` : ''}</body>
</html>
`
}
