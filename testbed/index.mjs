/**
 * The network testbed: DDS nodes as if on separate hosts, on a shared
 * "internet" or behind NAT routers, each in its own Linux network namespace,
 * with links of chosen rate, loss and delay. Needs root; see doc/TESTBED.md.
 *
 * ```js
 * import { createTestbed, testbedAvailable } from './testbed/index.mjs'
 * const tb = await createTestbed()
 * const relay = await tb.addPublicHost('relay')
 * const home = await tb.addNat('home', { kind: 'symmetric' }, { rate: '20mbit', delayMs: 20 })
 * const alice = await tb.addHostBehind(home, 'alice')
 * const node = alice.spawnNode('my-node.mjs', ['--dial', relay.address])
 * // ...
 * await tb.teardown()
 * ```
 *
 * @module
 */
import { fileURLToPath } from 'node:url'

export { createTestbed, INTERNET_SUBNET } from './lib/testbed.mjs'
export { testbedAvailable } from './lib/available.mjs'
export { removeStale, listNamespaces, NS_PREFIX } from './lib/sys.mjs'
export { waitForLine, stopProcess } from './lib/node.mjs'
export { parseRate, burstBytes } from './lib/link.mjs'

/** probe.mjs: echo servers that report the source address they saw, and a TCP sink/sender. */
export const PROBE = fileURLToPath(new URL('./probe.mjs', import.meta.url))
export { runScale, SCALE_DEFAULTS } from './lib/scale.mjs'
export { parseScaleArgs } from './lib/scale-args.mjs'
