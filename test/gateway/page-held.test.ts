/**
 * The page's "Held for other peers" section: replicas listed apart from the
 * node's own catalog, every field from a manifest or a peer escaped.
 */
import { describe, it, expect } from 'vitest'
import { renderPage } from '../../src/gateway/page.js'
import type { PinInfo } from '../../src/replication/index.js'

const PEER = '12D3KooWMZf2YWUtMPJMb7zrv2qCA9idWtceGwA7AWJEWhSYtfC3'
const CID = 'zb2rhe5P4gXftAwvA4eXQ5HJwsER2owDyS9sKaQRRVQPn93bA'

function section (html: string, name: string): string {
  const start = html.indexOf(`<section class="${name}">`)
  expect(start).toBeGreaterThanOrEqual(0)
  return html.slice(start, html.indexOf('</section>', start))
}

describe('the page\'s held-for-others section', () => {
  it('lists replicas with name, size, peer, state and since, apart from what the node shares', () => {
    const held: PinInfo[] = [
      { cid: CID, kind: 'replica', state: 'complete', size: 3 * 1024 * 1024, name: '<script>alert(1)</script>.wav', for: PEER, pinnedAt: Date.UTC(2026, 11, 2, 18, 59) },
      { cid: CID.replace('bA', 'bB'), kind: 'replica', state: 'fetching', size: 1024 * 1024, for: PEER, pinnedAt: Date.UTC(2026, 11, 2, 19, 0) }
    ]
    const html = renderPage({ peer: PEER, local: [], peers: [], held })
    expect(section(html, 'local')).toContain('Nothing shared.')
    const part = section(html, 'held')
    expect(part).toContain('<h2>Held for other peers</h2>')
    expect(part).toContain('2 replicas, 4.0 MiB.')
    expect(part).toContain('&lt;script&gt;alert(1)&lt;/script&gt;.wav')
    expect(part).not.toContain('<script>')
    expect(part).toContain(`<td class="for"><code>${PEER}</code></td>`)
    expect(part).toContain('<td class="state">fetching</td>')
    expect(part).toContain('2026-12-02 18:59 UTC')
    expect(part.match(/<tr data-cid=/g)).toHaveLength(2)
  })

  it('says when nothing is held, and leaves the section out when the node did not say', () => {
    expect(section(renderPage({ peer: PEER, local: [], peers: [], held: [] }), 'held')).toContain('Nothing held for other peers.')
    expect(renderPage({ peer: PEER, local: [], peers: [] })).not.toContain('class="held"')
  })
})
