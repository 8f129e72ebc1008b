// `npm run bench:markdown [-- results.json]`: prints the results of a run
// (bench/results/latest.json by default) as the Markdown tables used in
// docs/benchmarks.md.
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { renderMarkdown } from './lib/report.mjs'

const path = process.argv[2] ?? fileURLToPath(new URL('./results/latest.json', import.meta.url))
const results = JSON.parse(await readFile(path, 'utf8'))
const m = results.machine
const source = results.source == null ? '' : ` on commit ${results.source.commit}${results.source.srcModified ? ' with uncommitted changes in src/' : ''}`
console.log(`Run on ${results.date.slice(0, 10)} with \`${results.command}\`${source} (took ${results.durationS} s): ${m.nproc} cores (${m.cpu}), ${m.memoryGiB} GiB, Node ${m.node}, ${m.os}.\n`)
console.log(renderMarkdown(results))
