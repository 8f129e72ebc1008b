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
const attacks = ['jam', 'greedy', 'pushed', 'gateway', 'providers', 'fuzz']
const chosen = process.argv.slice(2).filter(a => attacks.includes(a))
let failed = false
for (const name of chosen.length > 0 ? chosen : attacks) {
  console.log(`\n== ${name} ==`)
  const run = spawnSync(process.execPath, [join(here, `${name}.mjs`)], { stdio: 'inherit' })
  failed ||= run.status !== 0
}
process.exit(failed ? 1 : 0)
