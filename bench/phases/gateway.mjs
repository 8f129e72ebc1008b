// Phase: the HTTP gateway next to `retrieve`, from one DDS seeder on
// 127.0.0.1, run by run in the same conditions: a fresh DDS retriever
// process calls `retrieve`, then a fresh gateway process is fetched from with
// curl (a real HTTP client, writing to /dev/null), for the whole content and
// for a 1 MiB range in its middle.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { startRole } from '../lib/proc.mjs'
import { ddsRetrieveOnce, startDdsSeeder, stopSeeders } from '../lib/runs.mjs'

const run = promisify(execFile)
const MiB = 1024 * 1024

export async function gatewayPhase (ctx) {
  try {
    await run('curl', ['--version'])
  } catch {
    ctx.skip('gateway', 'curl is not installed')
    return
  }
  ctx.log('gateway: starting a DDS seeder')
  const seeder = await startDdsSeeder(ctx, ctx.content, { label: 'dds-seeder-gateway' })
  try {
    for (let i = 0; i < ctx.options.runs; i++) {
      ctx.log(`gateway run ${i + 1}/${ctx.options.runs}`)
      await ctx.attempt('retrieve next to the gateway', async () => {
        ctx.record('gateway.retrieve', await ddsRetrieveOnce(ctx, ctx.content, [seeder], { label: `dds-retriever-gw-run${i + 1}` }))
      })
      await ctx.attempt('gateway with curl', async () => {
        ctx.record('gateway.http', await curlOnce(ctx, seeder, i))
      })
    }
  } finally {
    await stopSeeders(ctx, [seeder])
  }
}

async function curlOnce (ctx, seeder, i) {
  const proc = await startRole('dds-gateway', { bootstrap: seeder.addrs.slice(0, 1) }, { label: `dds-gateway-run${i + 1}` })
  try {
    const url = `${proc.info.url}/dds/${seeder.cid}`
    const whole = await curl(url, [])
    if (whole.code !== 200 || whole.bytes !== ctx.content.size) {
      throw new Error(`curl got HTTP ${whole.code} and ${whole.bytes} bytes, expected 200 and ${ctx.content.size}`)
    }
    const start = Math.floor(ctx.content.size / 2)
    const range = await curl(url, ['-H', `Range: bytes=${start}-${start + MiB - 1}`])
    if (range.code !== 206 || range.bytes !== MiB) {
      throw new Error(`curl range got HTTP ${range.code} and ${range.bytes} bytes, expected 206 and ${MiB}`)
    }
    const { peakRssBytes } = await proc.call('rss', {})
    return {
      mibs: ctx.content.size / MiB / whole.totalS,
      ttfbMs: whole.ttfbS * 1000,
      rangeMs: range.totalS * 1000,
      rssMiB: peakRssBytes / MiB
    }
  } finally {
    await proc.stop()
  }
}

async function curl (url, extra) {
  const { stdout } = await run('curl', [
    '-sS', '-o', '/dev/null', '--max-time', '600', ...extra,
    '-w', '%{http_code} %{size_download} %{time_starttransfer} %{time_total}', url
  ])
  const [code, bytes, ttfbS, totalS] = stdout.trim().split(' ').map(Number)
  return { code, bytes, ttfbS, totalS }
}
