// Phase: retrieval from 1 and from 3 seeders on 127.0.0.1, DDS and Helia
// interleaved run by run with the raw stream limit, so that every ratio
// compares figures taken under the same load. Each run uses a fresh
// retriever process. The three seeders of the 3-seeder group are connected
// to each other first.
import { ddsRetrieveOnce, heliaRetrieveOnce, rawStreamOnce, stopSeeders } from '../lib/runs.mjs'

const SETTLE_MS = 3000

/** Connects each seeder of a group to the ones before it. */
async function connectGroup (group) {
  for (let i = 1; i < group.length; i++) {
    await group[i].proc.call('connect', { addrs: group.slice(0, i).map(s => s.addrs[0]) })
  }
}

export async function retrievePhase (ctx, seeders) {
  const groups = (list) => ({ 1: list.slice(0, 1), 3: list.slice(1, 4) })
  const dds = groups(seeders.dds)
  const helia = groups(seeders.helia)
  // The seeders of a group are nodes of one network, as holders of the same
  // content are: they meet before the retrievals, not through the first
  // retriever (whose arrival would otherwise make them dial each other,
  // identify and fill their routing tables while it retrieves).
  for (const group of [dds[3], helia[3]]) {
    await connectGroup(group)
  }
  // let the seeders' LevelDB compactions after publishing finish, and the
  // DHT traffic of the group's first meeting
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
