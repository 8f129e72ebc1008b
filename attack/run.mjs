#!/usr/bin/env node
/**
 * `npm run attack`: each attack of attack/ at full scale against real nodes
 * in their own processes (loopback only), one after another, each printing
 * its figures against its target. `npm run attack -- gateway` runs one.
 */
import { spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
// each attack's script and arguments; `slow` is greedy.mjs with a peer that
// asks slowly instead: the pacing that shares the upload must not hold the
// honest peer to the slow one's pace
const scripts = {
  jam: ['jam.mjs'],
  greedy: ['greedy.mjs'],
  slow: ['greedy.mjs', '--slow', '8', '--identities', '1', '--max-upload', 'none'],
  pushed: ['pushed.mjs'],
  gateway: ['gateway.mjs'],
  providers: ['providers.mjs'],
  fuzz: ['fuzz.mjs']
}
const attacks = Object.keys(scripts)
const chosen = process.argv.slice(2).filter(a => attacks.includes(a))
let failed = false
for (const name of chosen.length > 0 ? chosen : attacks) {
  console.log(`\n== ${name} ==`)
  const [script, ...args] = scripts[name]
  const run = spawnSync(process.execPath, [join(here, script), ...args], { stdio: 'inherit' })
  failed ||= run.status !== 0
}
process.exit(failed ? 1 : 0)
