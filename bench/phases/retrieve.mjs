// Phase: retrieval from 1 and from 3 seeders on 127.0.0.1, DDS and Helia
// interleaved run by run with the raw stream limit, so that every ratio
// compares figures taken under the same load. Each run uses a fresh
// retriever process.
import { ddsRetrieveOnce, heliaRetrieveOnce, rawStreamOnce, stopSeeders } from '../lib/runs.mjs'

const SETTLE_MS = 2000

export async function retrievePhase (ctx, seeders) {
  const groups = (list) => ({ 1: list.slice(0, 1), 3: list.slice(1, 4) })
  const dds = groups(seeders.dds)
  const helia = groups(seeders.helia)
  // let the seeders' LevelDB compactions after publishing finish
  await new Promise(resolve => setTimeout(resolve, SETTLE_MS))
  for (let run = 0; run < ctx.options.runs; run++) {
    ctx.log(`retrieve run ${run + 1}/${ctx.options.runs}`)
    await ctx.attempt('raw libp2p stream', async () => {
      ctx.record('raw.stream', await rawStreamOnce(ctx, ctx.content.size))
    })
    for (const n of [1, 3]) {
      if (dds[n].length === n) {
        await ctx.attempt(`DDS retrieve from ${n}`, async () => {
          ctx.record(`retrieve.dds.${n}`, await ddsRetrieveOnce(ctx, ctx.content, dds[n], { label: `dds-retriever-${n}s-run${run + 1}` }))
        })
      }
      if (helia[n].length === n) {
        await ctx.attempt(`Helia retrieve from ${n}`, async () => {
          ctx.record(`retrieve.helia.${n}`, await heliaRetrieveOnce(ctx, ctx.content, helia[n], { label: `helia-retriever-${n}s-run${run + 1}` }))
        })
      }
    }
  }
  await stopSeeders(ctx, [...seeders.dds, ...seeders.helia])
}
