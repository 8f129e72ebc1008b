// Phase: the store's raw limit and publish/import speed. Each round runs a
// raw LevelDB batch-put, then starts one DDS seeder (timing its publish) and
// one Helia seeder (timing its import), all on the same file. The seeders
// stay up for the retrieve phase: the first of each kind serves the
// 1-seeder runs, the other three the 3-seeder runs (kept apart so the
// 1-seeder figure cannot be helped by peers a DHT lookup would reveal).
//
// Each round also publishes the file on a DDS node whose blocks go to
// blockstore-level and records to datastore-level
// (`Dds.create({ blockstore, datastore })`), stopped at once, just before
// the LevelDB seeder: each of the two then follows a process that has
// exited. Run after it, the blockstore node would publish while the LevelDB
// seeder (which stays up) compacts the 256 MiB it just wrote, and lose
// 10-50% to that alone.
import { rawLevelOnce, startDdsSeeder, startHeliaSeeder, stopSeeders } from '../lib/runs.mjs'

export const SEEDERS = 4

export async function publishPhase (ctx) {
  const seeders = { dds: [], helia: [] }
  for (let i = 0; i < SEEDERS; i++) {
    ctx.log(`publish round ${i + 1}/${SEEDERS}`)
    await ctx.attempt('raw LevelDB batch put', async () => {
      ctx.record('raw.level', await rawLevelOnce(ctx, ctx.content))
    })
    await ctx.attempt('DDS publish into blockstore-level', async () => {
      const seeder = await startDdsSeeder(ctx, ctx.content, { label: `dds-blockstore-${i}`, stores: 'blockstore-level' })
      ctx.record('publish.ddsBlockstore', { mibs: seeder.mibs })
      await stopSeeders(ctx, [seeder])
    })
    await ctx.attempt('DDS publish', async () => {
      const seeder = await startDdsSeeder(ctx, ctx.content, { label: `dds-seeder-${i}` })
      ctx.record('publish.dds', { mibs: seeder.mibs, announceMs: seeder.announceMs })
      seeders.dds.push(seeder)
    })
    if (ctx.options.helia) {
      await ctx.attempt('Helia import', async () => {
        const seeder = await startHeliaSeeder(ctx, ctx.content, { label: `helia-seeder-${i}` })
        ctx.record('publish.helia', { mibs: seeder.mibs })
        seeders.helia.push(seeder)
      })
    }
  }
  for (const kind of ['dds', 'helia']) {
    const cids = new Set(seeders[kind].map(s => s.cid))
    if (cids.size > 1) {
      throw new Error(`the ${kind} seeders published the same file under different CIDs: ${[...cids].join(', ')}`)
    }
  }
  return seeders
}
