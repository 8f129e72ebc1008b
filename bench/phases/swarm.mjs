// Phase: the bandwidth-limited swarm. Five DDS seeders, each in its own
// network namespace behind a veth limited to `--rate` (100 Mbit/s), and a
// retriever in a hub namespace. One seeder serves the 1-seeder runs alone;
// the other four serve the 4-seeder runs. A raw libp2p stream over one link
// shows what a link carries. Skipped, with the reason, where
// `ip netns` is not available.
import { createSwarmNetwork, netnsAvailable, removeStale, teardown } from '../netns.mjs'
import { ddsRetrieveOnce, rawStreamOnce, startDdsSeeder, stopSeeders } from '../lib/runs.mjs'

const SWARM = 4
const CALIBRATION_BYTES = 32 * 1024 * 1024

export async function swarmPhase (ctx) {
  const available = await netnsAvailable()
  if (!available.ok) {
    ctx.skip('swarm', available.reason)
    return
  }
  await removeStale()
  const seeders = []
  try {
    const net = await createSwarmNetwork({ seeders: SWARM + 1, rate: ctx.options.rate })
    ctx.log(`swarm network: hub ${net.hub}, ${net.seeders.length} seeder namespaces at ${ctx.options.rate}`)
    // what one shaped link carries: a raw libp2p stream from a seeder's namespace to the hub
    await ctx.attempt('swarm link calibration', async () => {
      const link = net.seeders[0]
      ctx.record('swarm.link', await rawStreamOnce(ctx, CALIBRATION_BYTES, {
        sinkListen: [`/ip4/${link.hubAddr}/tcp/0`], sinkNetns: net.hub, sourceNetns: link.ns
      }))
    })
    for (const [i, link] of net.seeders.entries()) {
      const seeder = await startDdsSeeder(ctx, ctx.swarmContent, {
        label: `dds-seeder-swarm-${i}`, listen: [`/ip4/${link.addr}/tcp/0`], netns: link.ns
      })
      seeders.push(seeder)
    }
    const groups = { 1: seeders.slice(0, 1), [SWARM]: seeders.slice(1) }
    for (let run = 0; run < ctx.options.runs; run++) {
      ctx.log(`swarm run ${run + 1}/${ctx.options.runs}`)
      for (const n of [1, SWARM]) {
        await ctx.attempt(`swarm retrieve from ${n}`, async () => {
          ctx.record(`swarm.${n}`, await ddsRetrieveOnce(ctx, ctx.swarmContent, groups[n], {
            label: `dds-retriever-swarm-${n}s-run${run + 1}`, netns: net.hub
          }))
        })
      }
    }
  } finally {
    await stopSeeders(ctx, seeders)
    await teardown()
  }
}
