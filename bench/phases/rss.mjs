// Phase: the retriever's peak RSS on large content (generated as a stream on
// both sides, never written to disk by the bench), next to the retrieve
// phase's figure for the smaller file. One seeder, fresh retriever per run.
import { fingerprintOf } from '../lib/content.mjs'
import { ddsRetrieveOnce, heliaRetrieveOnce, startDdsSeeder, startHeliaSeeder, stopSeeders } from '../lib/runs.mjs'

const LARGE_SEED = 'large'

export async function rssPhase (ctx) {
  const size = ctx.options.largeMiB * 1024 * 1024
  const large = { size, source: { seed: LARGE_SEED, size }, fingerprint: await fingerprintOf({ seed: LARGE_SEED, size }) }
  ctx.log(`large content: ${ctx.options.largeMiB} MiB`)
  await ctx.attempt('DDS large retrieve', async () => {
    const seeder = await startDdsSeeder(ctx, large, { label: 'dds-seeder-large' })
    try {
      ctx.record('large.publish.dds', { mibs: seeder.mibs })
      for (let run = 0; run < ctx.options.runs; run++) {
        ctx.record('large.dds', await ddsRetrieveOnce(ctx, large, [seeder], { label: `dds-retriever-large-run${run + 1}` }))
      }
    } finally {
      await stopSeeders(ctx, [seeder])
    }
  })
  if (!ctx.options.helia) {
    return
  }
  await ctx.attempt('Helia large retrieve', async () => {
    const seeder = await startHeliaSeeder(ctx, large, { label: 'helia-seeder-large' })
    try {
      ctx.record('large.publish.helia', { mibs: seeder.mibs })
      for (let run = 0; run < ctx.options.runs; run++) {
        ctx.record('large.helia', await heliaRetrieveOnce(ctx, large, [seeder], { label: `helia-retriever-large-run${run + 1}` }))
      }
    } finally {
      await stopSeeders(ctx, [seeder])
    }
  })
}
