// Phase: what a user with default options gets. Per run, interleaved: the raw
// libp2p stream between two fresh processes; a fresh DDS seeder with default
// options (memory store, listening on 127.0.0.1) publishes the content, and
// as soon as `publish` resolves a fresh DDS retriever with default options
// joins through it and retrieves at once; the same with a fresh Helia seeder
// and retriever. The clock runs from the retriever's `retrieve` call;
// `fromStartMibs` counts from the retriever's process start.
import { ddsRetrieveOnce, heliaRetrieveOnce, rawStreamOnce, startDdsSeeder, startHeliaSeeder, stopSeeders } from '../lib/runs.mjs'

export async function coldPhase (ctx) {
  for (let run = 0; run < ctx.options.runs; run++) {
    ctx.log(`cold run ${run + 1}/${ctx.options.runs}`)
    await ctx.attempt('cold raw libp2p stream', async () => {
      ctx.record('cold.raw.stream', await rawStreamOnce(ctx, ctx.content.size))
    })
    await ctx.attempt('cold DDS', async () => {
      const seeder = await startDdsSeeder(ctx, ctx.content, { label: `dds-cold-seeder-run${run + 1}`, defaults: true })
      try {
        ctx.record('cold.dds', await ddsRetrieveOnce(ctx, ctx.content, [seeder], { label: `dds-cold-retriever-run${run + 1}`, defaults: true }))
      } finally {
        await stopSeeders(ctx, [seeder])
      }
    })
    if (ctx.options.helia) {
      await ctx.attempt('cold Helia', async () => {
        const seeder = await startHeliaSeeder(ctx, ctx.content, { label: `helia-cold-seeder-run${run + 1}` })
        try {
          ctx.record('cold.helia', await heliaRetrieveOnce(ctx, ctx.content, [seeder], { label: `helia-cold-retriever-run${run + 1}` }))
        } finally {
          await stopSeeders(ctx, [seeder])
        }
      })
    }
  }
}
