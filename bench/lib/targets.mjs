// The targets of issue 3, as ratios of medians taken in one run.
import { ratio } from './stats.mjs'

const median = (s) => s?.median ?? null

/**
 * Each target: what it compares, the measured value, the bound and whether
 * it is met (`null` when a figure is missing or the part was skipped).
 */
export function evaluateTargets (figures, skipped = {}) {
  const f = (key) => figures[key] ?? null
  const large = f('large.dds.rssMiB')
  const targets = [
    {
      id: 'cold-vs-stream',
      text: 'cold processes, default options: DDS retrieve / raw libp2p stream',
      value: ratio(f('cold.dds.mibs'), f('cold.raw.stream.mibs')),
      op: '>=',
      bound: 0.5
    },
    {
      id: 'cold-vs-helia',
      text: 'cold processes, default options: DDS / Helia retrieve',
      value: ratio(f('cold.dds.mibs'), f('cold.helia.mibs')),
      op: '>=',
      bound: 3
    },
    {
      id: 'retrieve-vs-stream',
      text: 'DDS retrieve, 1 seeder / raw libp2p stream',
      value: ratio(f('retrieve.dds.1.mibs'), f('raw.stream.mibs')),
      op: '>=',
      bound: 0.75
    },
    {
      id: 'retrieve-vs-helia',
      text: 'DDS / Helia retrieve, 1 seeder',
      value: ratio(f('retrieve.dds.1.mibs'), f('retrieve.helia.1.mibs')),
      op: '>=',
      bound: 5
    },
    {
      id: 'three-vs-one',
      text: 'DDS retrieve, 3 seeders / 1 seeder',
      value: ratio(f('retrieve.dds.3.mibs'), f('retrieve.dds.1.mibs')),
      op: '>=',
      bound: 1
    },
    {
      id: 'three-bytes',
      text: 'DDS 3 seeders: bytes received / content size',
      value: median(f('retrieve.dds.3.wireRatio')),
      op: '<=',
      bound: 1.05
    },
    {
      id: 'publish-vs-level',
      text: 'DDS publish / raw LevelDB batch put',
      value: ratio(f('publish.dds.mibs'), f('raw.level.mibs')),
      op: '>=',
      bound: 0.85
    },
    {
      id: 'publish-blockstore-vs-level',
      text: 'DDS publish into blockstore-level + datastore-level / into its LevelDB store',
      value: ratio(f('publish.ddsBlockstore.mibs'), f('publish.dds.mibs')),
      op: '>=',
      bound: 0.85
    },
    {
      id: 'publish-vs-helia',
      text: 'DDS publish / Helia import',
      value: ratio(f('publish.dds.mibs'), f('publish.helia.mibs')),
      op: '>=',
      bound: 2
    },
    {
      id: 'rss-large',
      text: 'DDS retriever peak RSS, large content (MiB)',
      value: median(large),
      op: '<=',
      bound: 150
    },
    {
      id: 'rss-growth',
      text: 'DDS retriever peak RSS, large / small content',
      value: ratio(large, f('retrieve.dds.1.rssMiB')),
      op: '<=',
      bound: 1.1
    },
    {
      id: 'swarm',
      text: 'Swarm at 100 Mbit/s per seeder: 4 seeders / 1 seeder',
      value: ratio(f('swarm.4.mibs'), f('swarm.1.mibs')),
      op: '>=',
      bound: 3.2,
      skipped: skipped.swarm
    },
    {
      id: 'bandwidth-cap',
      text: 'Seeder capped at 5 MiB/s serving 2 retrievers: |rate / cap - 1| over 10 s',
      value: median(f('bandwidth.capDeviation')),
      op: '<=',
      bound: 0.1
    },
    {
      id: 'bandwidth-fair',
      text: 'Seeder capped at 5 MiB/s: smaller / larger share of its 2 retrievers',
      value: median(f('bandwidth.fairness')),
      op: '>=',
      bound: 0.8
    }
  ]
  for (const t of targets) {
    t.met = t.value == null ? null : (t.op === '>=' ? t.value >= t.bound : t.value <= t.bound)
  }
  return targets
}

/** Informative ratios with no target. */
export function otherRatios (figures, rate) {
  const f = (key) => figures[key] ?? null
  return [
    { text: 'DDS retrieve, 1 seeder, after the first byte / raw libp2p stream', value: ratio(f('retrieve.dds.1.afterFirstMibs'), f('raw.stream.mibs')) },
    { text: 'DDS / Helia retrieve, 1 seeder, after the first byte', value: ratio(f('retrieve.dds.1.afterFirstMibs'), f('retrieve.helia.1.afterFirstMibs')) },
    { text: 'DDS / Helia retrieve, 3 seeders', value: ratio(f('retrieve.dds.3.mibs'), f('retrieve.helia.3.mibs')) },
    { text: 'Helia retrieve, 3 seeders / 1 seeder', value: ratio(f('retrieve.helia.3.mibs'), f('retrieve.helia.1.mibs')) },
    { text: 'Helia import / raw LevelDB batch put', value: ratio(f('publish.helia.mibs'), f('raw.level.mibs')) },
    { text: 'Helia retriever peak RSS, large / small content', value: ratio(f('large.helia.rssMiB'), f('retrieve.helia.1.rssMiB')) },
    { text: 'Swarm, 4 seeders / 1 seeder, after the first byte', value: ratio(f('swarm.4.afterFirstMibs'), f('swarm.1.afterFirstMibs')) },
    { text: `Swarm, 1 seeder / link rate (${rate})`, value: linkShare(f('swarm.1.mibs'), rate) },
    { text: 'DDS retriever CPU per MiB, 1 seeder / raw stream receiver CPU per MiB', value: ratio(f('retrieve.dds.1.cpuMsPerMiB'), f('raw.stream.sinkCpuMsPerMiB')) },
    { text: 'DDS retriever peak RSS, 1 seeder / raw stream receiver peak RSS (same size)', value: ratio(f('retrieve.dds.1.rssMiB'), f('raw.stream.sinkPeakRssMiB')) },
    { text: 'Gateway over HTTP (curl) / retrieve(), 1 seeder', value: ratio(f('gateway.http.mibs'), f('gateway.retrieve.mibs')) }
  ]
}

/** A median in MiB/s as a share of a tc rate such as '100mbit'. */
function linkShare (s, rate) {
  const m = /^(\d+(?:\.\d+)?)mbit$/i.exec(rate ?? '')
  return s == null || m == null ? null : s.median / (Number(m[1]) * 1e6 / 8 / 1024 / 1024)
}
