import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

/**
 * Scenario suites: each runs several processes or many nodes, and heavy
 * work (hundreds of MiB published, replicated, killed and audited). Their
 * own project lets a quick loop leave them out (`npx vitest run --project
 * unit`); in a whole run they start first (projects are queued by name, and
 * the longest files first within one), so the short files fill the other
 * worker at the end instead of a scenario running alone on one core.
 */
const SCENARIOS = [
  'test/replication/crash.test.ts',
  'test/replication/crash-replica.test.ts',
  'test/replication/replication.test.ts',
  'test/cli/cli.test.ts',
  'test/cli/resume.test.ts',
  'test/testbed/nat-traversal.test.ts',
  'test/testbed/scale.test.ts'
]

export default defineConfig({
  resolve: {
    // The js-stores interface suites import aegir's chai (see test/utils/aegir-chai.ts).
    alias: { 'aegir/chai': fileURLToPath(new URL('./test/utils/aegir-chai.ts', import.meta.url)) }
  },
  test: {
    // processed by vitest (not loaded by Node directly), so the alias above reaches their imports
    server: { deps: { inline: ['interface-blockstore-tests', 'interface-datastore-tests'] } },
    // Real libp2p nodes over TCP in every process: forks isolate their
    // sockets and timers. Two workers, one per core; a per-project worker
    // limit would make vitest run the projects one after the other.
    pool: 'forks',
    maxWorkers: 2,
    // Deadlines for a loaded 2-core machine. A passing test never waits
    // them out: every wait inside a test polls a condition or an event.
    testTimeout: 180_000,
    hookTimeout: 120_000,
    teardownTimeout: 20_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: SCENARIOS
        }
      },
      {
        extends: true,
        test: {
          name: 'scenario',
          include: SCENARIOS
        }
      }
    ]
  }
})
