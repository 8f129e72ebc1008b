// Compares two builds of DDS on the same machine at the same time: the
// paired measurement to use when a change should make transfers cheaper.
//
//   node bench/compare.mjs <checkout A> <checkout B> [--size MiB] [--rounds N] [--seeders K]
//
// Each checkout must be built (`npm run build`: its dist/ is what runs). For
// each one, K seeders (LevelDB stores, announcing manifests only) publish the
// same generated content and one retriever (memory store) connects to them;
// both processes live through the whole comparison. The retrievers then
// fetch the content in turns, A B B A A B ..., and each turn reports the
// retriever's and the seeders' CPU time per MiB and the throughput. The
// first turn of each side is reported but left out of the medians: it pays
// for a fresh process (JIT, first connections).
//
// The machines this runs on are shared and noisy: absolute figures move 2-3x
// between minutes, but alternating turns share the same conditions, so the
// B/A ratios of the medians are what to read.
import { fork } from 'node:child_process'
import { parseArgs } from 'node:util'
import { resolve } from 'node:path'

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    size: { type: 'string', default: '256' },
    rounds: { type: 'string', default: '6' },
    seeders: { type: 'string', default: '1' }
  }
})
if (positionals.length !== 2) {
  console.error('usage: node bench/compare.mjs <checkout A> <checkout B> [--size MiB] [--rounds N] [--seeders K]')
  process.exit(2)
}
const sizeMiB = Number(values.size)
const rounds = Number(values.rounds)
const seeders = Number(values.seeders)
for (const [name, n] of [['size', sizeMiB], ['rounds', rounds], ['seeders', seeders]]) {
  if (!Number.isSafeInteger(n) || n < 1) {
    console.error(`--${name} must be a positive integer`)
    process.exit(2)
  }
}

const SETTLE_MS = 10_000
const ROLE = new URL('./roles/compare-node.mjs', import.meta.url).pathname
const children = []
const start = async (checkout, args) => {
  const child = fork(ROLE, [resolve(checkout), ...args])
  children.push(child)
  const message = await reply(child)
  if (message.error != null) {
    throw new Error(message.error)
  }
  return { child, ...message }
}
const reply = (child) => new Promise((resolve, reject) => {
  const onMessage = (message) => {
    child.off('exit', onExit)
    resolve(message)
  }
  const onExit = (code) => {
    child.off('message', onMessage)
    reject(new Error(`a ${ROLE} process exited (${code})`))
  }
  child.once('message', onMessage)
  child.once('exit', onExit)
})
const call = async (child, message) => {
  child.send(message)
  const answer = await reply(child)
  if (answer.error != null) {
    throw new Error(answer.error)
  }
  return answer
}
const median = (list) => {
  const sorted = [...list].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}

try {
  const sides = {}
  for (const [key, checkout] of [['A', positionals[0]], ['B', positionals[1]]]) {
    const seeds = []
    for (let i = 0; i < seeders; i++) {
      seeds.push(await start(checkout, ['seeder', String(sizeMiB)]))
    }
    const cids = new Set(seeds.map(s => s.cid))
    if (cids.size !== 1) {
      throw new Error(`the seeders of ${checkout} published different CIDs`)
    }
    const retriever = await start(checkout, ['retriever', JSON.stringify(seeds.flatMap(s => s.addrs))])
    sides[key] = { checkout, seeds, retriever, cid: seeds[0].cid, turns: [] }
  }
  // let the seeders' LevelDB compactions after publishing finish: the side
  // that published last would otherwise pay for them in its first turns
  await new Promise(resolve => setTimeout(resolve, SETTLE_MS))
  const order = []
  for (let i = 0; i < rounds; i++) {
    order.push(...(i % 2 === 0 ? ['A', 'B'] : ['B', 'A']))
  }
  for (const key of order) {
    const side = sides[key]
    const cpu = async () => (await Promise.all(side.seeds.map(s => call(s.child, { op: 'cpu' })))).reduce((t, a) => t + a.cpuMs, 0)
    const before = await cpu()
    const got = await call(side.retriever.child, { op: 'retrieve', cid: side.cid })
    const seederMs = await cpu() - before
    const mib = got.bytes / 2 ** 20
    const turn = { mibs: mib / (got.ms / 1000), retriever: got.cpuMs / mib, seeders: seederMs / mib }
    side.turns.push(turn)
    console.log(`${key}  ${turn.mibs.toFixed(1).padStart(6)} MiB/s  retriever ${turn.retriever.toFixed(2).padStart(6)} ms/MiB  seeders ${turn.seeders.toFixed(2).padStart(6)} ms/MiB${side.turns.length === 1 ? '  (first turn, not counted)' : ''}`)
  }
  const summary = {}
  for (const [key, side] of Object.entries(sides)) {
    const counted = side.turns.slice(1)
    summary[key] = { mibs: median(counted.map(t => t.mibs)), retriever: median(counted.map(t => t.retriever)), seeders: median(counted.map(t => t.seeders)) }
    console.log(`${key} = ${side.checkout}: median of ${counted.length}: ${summary[key].mibs.toFixed(1)} MiB/s, retriever ${summary[key].retriever.toFixed(2)} ms/MiB, seeders ${summary[key].seeders.toFixed(2)} ms/MiB`)
  }
  console.log(`B/A: throughput ${(summary.B.mibs / summary.A.mibs).toFixed(3)}, retriever CPU per MiB ${(summary.B.retriever / summary.A.retriever).toFixed(3)}, seeders' CPU per MiB ${(summary.B.seeders / summary.A.seeders).toFixed(3)}`)
} finally {
  for (const child of children) {
    child.kill()
  }
}
