/**
 * Shared by the testbed's own tests: whether they can run here (root,
 * iptables, ...; otherwise they are skipped with the reason in their name
 * and on stderr), and the probe programs run inside hosts.
 */
import { PROBE, testbedAvailable, waitForLine } from '../../testbed/index.mjs'
import type { Node } from '../../testbed/index.mjs'
import type { ChildProcess } from 'node:child_process'

export const available = await testbedAvailable()
if (!available.ok) {
  process.stderr.write(`test/testbed: SKIPPED, the testbed cannot run here: ${available.reason}\n`)
}

/** The suite's title, with the reason when it is skipped. */
export function title (name: string): string {
  return available.ok ? name : `${name} (skipped: ${available.reason})`
}

/** Starts a probe server (udp-echo, tcp-echo, sink) on `node` and waits until it listens. */
export async function serve (node: Node, kind: 'udp-echo' | 'tcp-echo' | 'sink', port: number): Promise<ChildProcess> {
  const child = node.spawnNode(PROBE, [kind, String(port)], { stdio: ['ignore', 'pipe', 'pipe'] })
  await waitForLine(child, /^listening /)
  return child
}

/** Runs a probe client on `node` and returns the JSON line it printed. */
export async function probe (node: Node, args: string[]): Promise<any> {
  const { stdout } = await node.execNode(PROBE, args)
  return JSON.parse(stdout.trim().split('\n').at(-1)!)
}

/** The port of an 'address:port'. */
export function portOf (seen: string): number {
  return Number(seen.slice(seen.lastIndexOf(':') + 1))
}
