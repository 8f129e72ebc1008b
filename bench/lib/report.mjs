// Turns the results into the printed table and the Markdown table of
// docs/benchmarks.md (same rows, same numbers).

const DIGITS = { 'MiB/s': 1, ms: 0, 'ms/MiB': 2, MiB: 0, x: 3 }

/** The table's rows: section headings and figures (key into `figures`). */
export function tableRows ({ sizeMiB, largeMiB, swarmMiB, rate }) {
  const size = `${sizeMiB} MiB`
  const large = `${largeMiB} MiB`
  return [
    { section: 'Raw limits of the stack' },
    { key: 'raw.stream.mibs', label: `one libp2p stream (TCP+Noise+Yamux, 2 processes), ${size}`, unit: 'MiB/s' },
    { key: 'raw.level.mibs', label: 'LevelDB batch put, 16 x 256 KiB per batch', unit: 'MiB/s' },
    { key: 'raw.stream.sinkCpuMsPerMiB', label: 'one libp2p stream: receiver CPU time per MiB', unit: 'ms/MiB' },
    { key: 'raw.stream.sinkPeakRssMiB', label: `one libp2p stream: receiver peak RSS, ${size}`, unit: 'MiB' },
    { section: `Publish ${size} into LevelDB` },
    { key: 'publish.dds.mibs', label: 'DDS publish(fs.createReadStream(file))', unit: 'MiB/s' },
    { key: 'publish.ddsBlockstore.mibs', label: 'DDS publish, Dds.create({ blockstore: blockstore-level, datastore: datastore-level })', unit: 'MiB/s' },
    { key: 'publish.helia.mibs', label: 'Helia unixfs addByteStream into blockstore-level', unit: 'MiB/s' },
    { key: 'publish.dds.announceMs', label: 'DDS: background chunk announcements drained after', unit: 'ms' },
    { section: `Retrieve ${size} over 127.0.0.1` },
    { key: 'retrieve.dds.1.mibs', label: 'DDS, 1 seeder', unit: 'MiB/s' },
    { key: 'retrieve.dds.3.mibs', label: 'DDS, 3 seeders', unit: 'MiB/s' },
    { key: 'retrieve.helia.1.mibs', label: 'Helia, 1 seeder', unit: 'MiB/s' },
    { key: 'retrieve.helia.3.mibs', label: 'Helia, 3 seeders', unit: 'MiB/s' },
    { key: 'retrieve.dds.1.afterFirstMibs', label: 'DDS, 1 seeder, after the first byte', unit: 'MiB/s' },
    { key: 'retrieve.dds.3.afterFirstMibs', label: 'DDS, 3 seeders, after the first byte', unit: 'MiB/s' },
    { key: 'retrieve.helia.1.afterFirstMibs', label: 'Helia, 1 seeder, after the first byte', unit: 'MiB/s' },
    { key: 'retrieve.helia.3.afterFirstMibs', label: 'Helia, 3 seeders, after the first byte', unit: 'MiB/s' },
    { key: 'retrieve.dds.1.cpuMsPerMiB', label: 'DDS, 1 seeder: retriever CPU time per MiB', unit: 'ms/MiB' },
    { key: 'retrieve.dds.3.cpuMsPerMiB', label: 'DDS, 3 seeders: retriever CPU time per MiB', unit: 'ms/MiB' },
    { key: 'retrieve.dds.1.ttfbMs', label: 'DDS, 1 seeder: time to first byte', unit: 'ms' },
    { key: 'retrieve.dds.3.ttfbMs', label: 'DDS, 3 seeders: time to first byte', unit: 'ms' },
    { key: 'retrieve.dds.1.manifestMs', label: 'DDS, 1 seeder: time to the manifest (of the above)', unit: 'ms' },
    { key: 'retrieve.helia.1.ttfbMs', label: 'Helia, 1 seeder: time to first byte', unit: 'ms' },
    { key: 'retrieve.helia.3.ttfbMs', label: 'Helia, 3 seeders: time to first byte', unit: 'ms' },
    { key: 'retrieve.dds.1.wireRatio', label: 'DDS, 1 seeder: TCP bytes received / size', unit: 'x' },
    { key: 'retrieve.dds.3.wireRatio', label: 'DDS, 3 seeders: TCP bytes received / size', unit: 'x' },
    { key: 'retrieve.helia.1.wireRatio', label: 'Helia, 1 seeder: TCP bytes received / size', unit: 'x' },
    { key: 'retrieve.helia.3.wireRatio', label: 'Helia, 3 seeders: TCP bytes received / size', unit: 'x' },
    { key: 'retrieve.dds.3.peerRatio', label: 'DDS, 3 seeders: chunk bytes from peers / size', unit: 'x' },
    { key: 'retrieve.dds.3.peers', label: 'DDS, 3 seeders: peers that delivered chunks', unit: '' },
    { section: 'Retriever peak RSS (1 seeder)' },
    { key: 'retrieve.dds.1.readyRssMiB', label: 'DDS, node up, before retrieving', unit: 'MiB' },
    { key: 'retrieve.dds.1.rssMiB', label: `DDS, ${size}`, unit: 'MiB' },
    { key: 'large.dds.rssMiB', label: `DDS, ${large}`, unit: 'MiB' },
    { key: 'retrieve.dds.1.heapMiB', label: `DDS, ${size}: peak JS heap used`, unit: 'MiB' },
    { key: 'retrieve.dds.1.arrayBuffersMiB', label: `DDS, ${size}: peak Buffer/ArrayBuffer memory`, unit: 'MiB' },
    { key: 'large.dds.heapMiB', label: `DDS, ${large}: peak JS heap used`, unit: 'MiB' },
    { key: 'large.dds.arrayBuffersMiB', label: `DDS, ${large}: peak Buffer/ArrayBuffer memory`, unit: 'MiB' },
    { key: 'retrieve.helia.1.readyRssMiB', label: 'Helia, node up, before retrieving', unit: 'MiB' },
    { key: 'retrieve.helia.1.rssMiB', label: `Helia, ${size}`, unit: 'MiB' },
    { key: 'large.helia.rssMiB', label: `Helia, ${large}`, unit: 'MiB' },
    { key: 'large.dds.mibs', label: `DDS retrieve ${large}, 1 seeder`, unit: 'MiB/s' },
    { key: 'large.helia.mibs', label: `Helia retrieve ${large}, 1 seeder`, unit: 'MiB/s' },
    { section: `HTTP gateway, ${size} from 1 DDS seeder (curl to /dev/null)` },
    { key: 'gateway.retrieve.mibs', label: 'DDS retrieve() in a fresh process, same seeder, same run', unit: 'MiB/s' },
    { key: 'gateway.http.mibs', label: 'curl GET /dds/<cid> through a fresh gateway node', unit: 'MiB/s' },
    { key: 'gateway.http.ttfbMs', label: 'curl: time to first byte', unit: 'ms' },
    { key: 'gateway.http.rangeMs', label: 'curl: 1 MiB Range from the middle, whole request', unit: 'ms' },
    { key: 'gateway.http.rssMiB', label: 'gateway node peak RSS', unit: 'MiB' },
    { section: `Bandwidth-limited swarm: ${swarmMiB} MiB, each seeder behind ${rate}` },
    { key: 'swarm.link.mibs', label: 'raw libp2p stream over one link (32 MiB)', unit: 'MiB/s' },
    { key: 'swarm.1.mibs', label: 'DDS, 1 seeder', unit: 'MiB/s' },
    { key: 'swarm.4.mibs', label: 'DDS, 4 seeders', unit: 'MiB/s' },
    { key: 'swarm.1.afterFirstMibs', label: 'DDS, 1 seeder, after the first byte', unit: 'MiB/s' },
    { key: 'swarm.4.afterFirstMibs', label: 'DDS, 4 seeders, after the first byte', unit: 'MiB/s' },
    { key: 'swarm.4.ttfbMs', label: 'DDS, 4 seeders: time to first byte', unit: 'ms' },
    { key: 'swarm.4.peers', label: 'DDS, 4 seeders: peers that delivered chunks', unit: '' },
    { key: 'swarm.4.wireRatio', label: 'DDS, 4 seeders: TCP bytes received / size', unit: 'x' },
    { section: 'Upload cap: 1 DDS seeder at --max-upload 5MiB, 2 retrievers of 40 MiB each, over 10 s' },
    { key: 'bandwidth.limiterMibs', label: 'seeder: bytes through its upload limit', unit: 'MiB/s' },
    { key: 'bandwidth.receivedMibs', label: 'chunk bytes the 2 retrievers received', unit: 'MiB/s' },
    { key: 'bandwidth.retriever1Mibs', label: 'retriever 1', unit: 'MiB/s' },
    { key: 'bandwidth.retriever2Mibs', label: 'retriever 2', unit: 'MiB/s' },
    { key: 'bandwidth.fairness', label: 'smaller / larger share', unit: 'x' },
    { key: 'bandwidth.rescued', label: 'chunks rescued from the capped seeder (both retrievals)', unit: '' },
    { key: 'bandwidth.duplicates', label: 'duplicate chunks received (both retrievals)', unit: '' },
    { section: `Cold processes, default options, ${size}: retrieval right after a fresh seeder publishes` },
    { key: 'cold.raw.stream.mibs', label: 'one libp2p stream, 2 fresh processes', unit: 'MiB/s' },
    { key: 'cold.dds.mibs', label: 'DDS, from the retrieve call', unit: 'MiB/s' },
    { key: 'cold.dds.fromStartMibs', label: 'DDS, from the retriever process start', unit: 'MiB/s' },
    { key: 'cold.dds.ttfbMs', label: 'DDS: time to first byte', unit: 'ms' },
    { key: 'cold.dds.cpuMsPerMiB', label: 'DDS: retriever CPU time per MiB', unit: 'ms/MiB' },
    { key: 'cold.raw.stream.sinkCpuMsPerMiB', label: 'one libp2p stream: receiver CPU time per MiB', unit: 'ms/MiB' },
    { key: 'cold.dds.rssMiB', label: 'DDS: retriever peak RSS', unit: 'MiB' },
    { key: 'cold.helia.mibs', label: 'Helia, from the retrieve call', unit: 'MiB/s' },
    { key: 'cold.helia.ttfbMs', label: 'Helia: time to first byte', unit: 'ms' },
    { key: 'cold.helia.rssMiB', label: 'Helia: retriever peak RSS', unit: 'MiB' }
  ]
}

export function fmt (value, unit) {
  if (value == null || !Number.isFinite(value)) {
    return '-'
  }
  return value.toFixed(DIGITS[unit] ?? (Number.isInteger(value) ? 0 : 2))
}

/** The rows of the sections that have at least one figure. */
function measuredRows (results) {
  const rows = tableRows(results.settings)
  const kept = []
  let section = null
  let pending = []
  const flush = () => {
    if (section != null && pending.some(r => results.figures[r.key] != null)) {
      kept.push(section, ...pending)
    }
    pending = []
  }
  for (const row of rows) {
    if (row.section != null) {
      flush()
      section = row
    } else {
      pending.push(row)
    }
  }
  flush()
  return kept
}

function targetLine (t) {
  const status = t.met == null ? (t.skipped != null ? 'skipped' : 'not measured') : (t.met ? 'met' : 'MISSED')
  return { status, value: fmt(t.value, t.id === 'rss-large' ? 'MiB' : 'x'), bound: `${t.op} ${t.bound}` }
}

/** The results as plain text for the terminal. */
export function renderText (results) {
  const lines = []
  const pad = (s, n) => String(s).padEnd(n)
  const num = (s, n) => String(s).padStart(n)
  lines.push(`${pad('', 66)}${num('median', 9)}${num('min', 9)}${num('max', 9)}${num('n', 4)}  unit`)
  for (const row of measuredRows(results)) {
    if (row.section != null) {
      lines.push(row.section)
      continue
    }
    const s = results.figures[row.key]
    lines.push(`  ${pad(row.label, 64)}${num(fmt(s?.median, row.unit), 9)}${num(fmt(s?.min, row.unit), 9)}${num(fmt(s?.max, row.unit), 9)}${num(s?.n ?? 0, 4)}  ${row.unit}`)
  }
  lines.push('', 'Targets (ratios of medians from this run)')
  for (const t of results.targets) {
    const { status, value, bound } = targetLine(t)
    lines.push(`  ${pad(`[${status}]`, 15)}${pad(t.text, 58)}${num(value, 8)}  ${bound}${t.skipped != null ? `  (${t.skipped})` : ''}`)
  }
  lines.push('', 'Other ratios')
  for (const r of results.ratios) {
    lines.push(`  ${pad(r.text, 73)}${num(fmt(r.value, 'x'), 8)}`)
  }
  if (results.errors.length > 0) {
    lines.push('', 'Errors')
    for (const e of results.errors) {
      lines.push(`  ${e.what}: ${e.message.split('\n')[0]}`)
    }
  }
  return lines.join('\n')
}

/** The results as Markdown tables. */
export function renderMarkdown (results) {
  const lines = ['| Figure | Median | Min | Max | Runs | Unit |', '| --- | ---: | ---: | ---: | ---: | --- |']
  for (const row of measuredRows(results)) {
    if (row.section != null) {
      lines.push(`| **${row.section}** | | | | | |`)
      continue
    }
    const s = results.figures[row.key]
    lines.push(`| ${row.label} | ${fmt(s?.median, row.unit)} | ${fmt(s?.min, row.unit)} | ${fmt(s?.max, row.unit)} | ${s?.n ?? 0} | ${row.unit} |`)
  }
  lines.push('', '| Target | Measured | Bound | Status |', '| --- | ---: | --- | --- |')
  for (const t of results.targets) {
    const { status, value, bound } = targetLine(t)
    lines.push(`| ${t.text} | ${value} | ${bound.replace('>=', '≥').replace('<=', '≤')} | ${status}${t.skipped != null ? ` (${t.skipped})` : ''} |`)
  }
  lines.push('', '| Other ratio | Value |', '| --- | ---: |')
  for (const r of results.ratios) {
    lines.push(`| ${r.text} | ${fmt(r.value, 'x')} |`)
  }
  return lines.join('\n')
}
