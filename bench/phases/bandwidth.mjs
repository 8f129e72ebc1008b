// Phase: a DDS seeder with its upload capped at 5 MiB/s serves two
// retrievers at once. Over a 10 s window taken while both retrieve (after
// the first 2 s, so the bursts are spent), it reports the rate the seeder's
// limiter let through and the chunk bytes each retriever received, whose
// ratio (smaller / larger) is the fairness of the shared upload; and the
// duplicates and rescues of each retrieval, which stay small when a capped
// peer is seen as uniformly slow rather than late.
import { MiB, fingerprintOf } from '../lib/content.mjs'
import { startRole } from '../lib/proc.mjs'
import { stopSeeders } from '../lib/runs.mjs'

/** The upload cap measured. */
export const BANDWIDTH_CAP = 5 * MiB
/** Each retriever's content: two of them keep the seeder busy for ~16 s at the cap, beyond the window. */
const CONTENT_MIB = 40
const WINDOW_START_MS = 2_000
const WINDOW_MS = 10_000

export async function bandwidthPhase (ctx) {
  const source = { seed: 'bandwidth', size: CONTENT_MIB * MiB }
  const fingerprint = await fingerprintOf(source)
  const dir = await ctx.tempDir('dds-capped-seeder')
  const seeder = await startRole('dds-seeder', { storage: dir, announce: ctx.options.announce, bandwidth: { upload: BANDWIDTH_CAP } }, { label: 'dds-capped-seeder' })
  const seeders = [{ proc: seeder, dir }]
  try {
    const published = { ...(await seeder.call('publish', { source }, 300_000)), fingerprint }
    const bootstrap = [seeder.info.multiaddrs[0]]
    for (let run = 0; run < ctx.options.runs; run++) {
      ctx.log(`bandwidth run ${run + 1}/${ctx.options.runs}: 2 retrievers, seeder upload capped at ${BANDWIDTH_CAP / MiB} MiB/s`)
      await ctx.attempt('bandwidth', async () => {
        ctx.record('bandwidth', await cappedRun(published, bootstrap, seeder, run))
      })
    }
  } finally {
    await stopSeeders(ctx, seeders)
  }
}

async function cappedRun (published, bootstrap, seeder, run) {
  const retrievers = await Promise.all([1, 2].map(async (i) => startRole('dds-retriever', { bootstrap }, { label: `dds-capped-retriever-${i}-run${run + 1}` })))
  try {
    const marks = [WINDOW_START_MS, WINDOW_START_MS + WINDOW_MS]
    const seederStats = []
    const sampling = marks.map(ms => new Promise((resolve) => setTimeout(resolve, ms)).then(async () => {
      seederStats.push({ at: performance.now(), stats: await seeder.call('stats', {}) })
    }))
    const results = await Promise.all(retrievers.map(async (r) => r.call('retrieve', { cid: published.cid, size: published.bytes, marks }, 600_000)))
    await Promise.all(sampling)
    for (const r of results) {
      if (r.bytes !== published.bytes || r.fingerprint !== published.fingerprint) {
        throw new Error(`a retriever got ${r.bytes} bytes, expected ${published.bytes} (or the wrong bytes)`)
      }
      if (r.marks.length !== 2 || r.marks[1].bytes >= published.bytes) {
        throw new Error('a retriever finished before the end of the window: the content is too small for the cap')
      }
    }
    const windowBytes = results.map(r => r.marks[1].bytes - r.marks[0].bytes)
    const [first, last] = seederStats.sort((a, b) => a.at - b.at)
    const seconds = (last.at - first.at) / 1000
    const limiterMibs = (last.stats.bandwidth.upload.bytes - first.stats.bandwidth.upload.bytes) / MiB / seconds
    const receivedMibs = windowBytes.reduce((a, b) => a + b, 0) / MiB / (WINDOW_MS / 1000)
    return {
      limiterMibs,
      receivedMibs,
      capDeviation: Math.abs(limiterMibs * MiB / BANDWIDTH_CAP - 1),
      fairness: Math.min(...windowBytes) / Math.max(...windowBytes),
      retriever1Mibs: windowBytes[0] / MiB / (WINDOW_MS / 1000),
      retriever2Mibs: windowBytes[1] / MiB / (WINDOW_MS / 1000),
      seederWaits: last.stats.bandwidth.upload.waits,
      rescued: results.reduce((a, r) => a + (r.rescued ?? 0), 0),
      duplicates: results.reduce((a, r) => a + (r.duplicates ?? 0), 0),
      providerFailures: results.reduce((a, r) => a + r.providerFailures, 0)
    }
  } finally {
    await Promise.all(retrievers.map(async (r) => r.stop()))
  }
}
