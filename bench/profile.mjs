// `npm run bench:profile -- <file.cpuprofile>... [--top N]`
//
// Summarises V8 CPU profiles (as written by `npm run bench -- --cpu-prof`
// into bench/results/profiles/): where the process spent its time, by area
// (DDS itself, each npm package, Node internals, GC, idle) and by function
// (self time).
import { readFile } from 'node:fs/promises'
import { basename } from 'node:path'
import { parseArgs } from 'node:util'

const SPECIAL = new Set(['(idle)', '(garbage collector)', '(program)', '(root)'])

/** Self time in ms of every profile node. */
function selfTimes (profile) {
  const time = new Map()
  profile.samples.forEach((id, i) => {
    time.set(id, (time.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000)
  })
  return time
}

/** Which part of the program a call frame belongs to. */
function areaOf ({ functionName, url }) {
  if (SPECIAL.has(functionName)) {
    return functionName
  }
  if (url === '') {
    return '(native)'
  }
  if (url.startsWith('node:')) {
    return 'node internals'
  }
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url.slice(url.lastIndexOf('node_modules/')))
  if (pkg != null) {
    return pkg[1]
  }
  if (url.includes('/dist/')) {
    return 'dds (dist/)'
  }
  if (url.includes('/bench/')) {
    return 'bench'
  }
  return url
}

function where ({ url, lineNumber }) {
  if (url === '') {
    return ''
  }
  const path = url.replace(/^file:\/\//, '')
  const short = path.includes('node_modules/')
    ? path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length)
    : path.replace(/^.*\/(dist|bench)\//, '$1/')
  return `${short}:${lineNumber + 1}`
}

export async function summarizeProfile (path, top = 15) {
  const profile = JSON.parse(await readFile(path, 'utf8'))
  const times = selfTimes(profile)
  const byFunction = new Map()
  const byArea = new Map()
  let total = 0
  for (const node of profile.nodes) {
    const ms = times.get(node.id) ?? 0
    total += ms
    const frame = node.callFrame
    const key = `${frame.functionName || '(anonymous)'} ${where(frame)}`
    byFunction.set(key, (byFunction.get(key) ?? 0) + ms)
    const area = areaOf(frame)
    byArea.set(area, (byArea.get(area) ?? 0) + ms)
  }
  const idle = byArea.get('(idle)') ?? 0
  const lines = [`${basename(path)}: ${(total / 1000).toFixed(1)} s sampled, ${(100 * (1 - idle / total)).toFixed(0)}% busy`]
  const pct = (ms) => `${(100 * ms / total).toFixed(1).padStart(5)}%`
  lines.push('  by area (self time):')
  for (const [area, ms] of [...byArea].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    lines.push(`    ${pct(ms)}  ${area}`)
  }
  lines.push('  top functions (self time):')
  for (const [fn, ms] of [...byFunction].filter(([k]) => !SPECIAL.has(k.trim())).sort((a, b) => b[1] - a[1]).slice(0, top)) {
    lines.push(`    ${pct(ms)}  ${fn}`)
  }
  return lines.join('\n')
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '15' } } })
if (positionals.length === 0) {
  console.error('usage: npm run bench:profile -- <file.cpuprofile>... [--top N]')
  process.exit(2)
}
for (const file of positionals) {
  console.log(await summarizeProfile(file, Number(values.top)))
}
