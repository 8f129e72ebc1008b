import { defineConfig } from 'vitest/config'

/**
 * Scenario suites: each runs several processes or many nodes, and heavy
 * work (hundreds of MiB published, replicated, killed and audited). They run
 * one at a time, beside the other suites, so that on two cores a scenario
 * never competes with another scenario.
 */
const SCENARIOS = [
  'test/replication/crash.test.ts',
  'test/replication/crash-replica.test.ts',
  'test/replication/replication.test.ts',
  'test/cli/cli.test.ts'
]

export default defineConfig({
  test: {
    // Real libp2p nodes over TCP in every process: forks isolate their
    // sockets and timers. Two workers, one per core.
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
          include: SCENARIOS,
          maxWorkers: 1
        }
      }
    ]
  }
})
