/**
 * Daemons and relays: `dds daemon --relay-server` serves reservations, a
 * daemon with no public address takes one and `dds id` shows its relayed
 * address, and `dds peers` tells direct connections from relayed ones.
 * Real daemons from dist/ on 127.0.0.1.
 */
import { describe, it, expect, afterAll } from 'vitest'
import { join } from 'node:path'
import { cleanup, dds, startDaemon, tempDir, type Daemon } from './harness.js'
import { waitFor } from '../utils/wait.js'

const daemons: Daemon[] = []
afterAll(async () => {
  await Promise.all(daemons.map(async d => d.stop()))
  await cleanup()
})

describe('dds daemon with relays', () => {
  it('a daemon behind no public address listens through a --relay-server daemon; id shows the relayed address, peers the relayed path', async () => {
    const dir = await tempDir()
    const relay = await startDaemon(join(dir, 'relay'), ['--relay-server'])
    daemons.push(relay)
    // 127.0.0.1 is no public address: A keeps a reservation on its bootstrap relay
    const a = await startDaemon(join(dir, 'a'), ['--bootstrap', relay.addrs[0]!])
    daemons.push(a)
    let circuit: string | undefined
    await waitFor(async () => {
      const id = await dds(['id', '--json', '--repo', a.repo])
      circuit = (JSON.parse(id.stdout) as { addrs: string[] }).addrs.find(addr => addr.includes('/p2p-circuit'))
      return circuit != null
    }, 'dds id on A to show a relayed address')
    expect(circuit).toBe(`${relay.addrs[0]}/p2p-circuit/p2p/${a.peer}`)
    // the operator reads it in the daemon's log too
    await waitFor(() => a.stderr().includes('INFO  dds:node listening through a relay addrs='), 'the reservation to be logged')
    const text = await dds(['id', '--repo', a.repo])
    expect(text.stdout).toContain(circuit)

    // B reaches A through the relay only
    const b = await startDaemon(join(dir, 'b'), ['--no-nat'])
    daemons.push(b)
    const connected = await dds(['connect', circuit!, '--repo', b.repo])
    expect(connected.code, connected.stderr).toBe(0)
    // (A may have upgraded to a direct connection by now: on loopback B's address is dialable)
    const peers = await dds(['peers', '--repo', b.repo])
    expect(peers.stdout.split('\n').find(line => line.startsWith(a.peer))).toMatch(new RegExp(`^${a.peer} +(direct, )?relayed +.*/p2p/${relay.peer}/p2p-circuit`))
    const json = JSON.parse((await dds(['peers', '--json', '--repo', b.repo])).stdout) as Array<{ peer: string, connections: Array<{ addr: string, relayed: boolean }> }>
    const viaRelay = json.find(p => p.peer === a.peer)?.connections.filter(c => c.addr.includes('/p2p-circuit'))
    expect(viaRelay?.length).toBeGreaterThan(0)
    expect(viaRelay?.every(c => c.relayed)).toBe(true)
    expect(json.find(p => p.peer === a.peer)?.connections.filter(c => !c.addr.includes('/p2p-circuit')).every(c => !c.relayed)).toBe(true)
  })

  it('--no-nat keeps a daemon off relays', async () => {
    const dir = await tempDir()
    const relay = await startDaemon(join(dir, 'relay'), ['--relay-server'])
    daemons.push(relay)
    const a = await startDaemon(join(dir, 'a'), ['--bootstrap', relay.addrs[0]!, '--no-nat'])
    daemons.push(a)
    // a daemon with NAT traversal, started after A, takes its reservation: A had as long
    const control = await startDaemon(join(dir, 'control'), ['--bootstrap', relay.addrs[0]!])
    daemons.push(control)
    await waitFor(async () => (JSON.parse((await dds(['id', '--json', '--repo', control.repo])).stdout) as { addrs: string[] }).addrs.some(addr => addr.includes('/p2p-circuit')), 'the control daemon to listen through the relay')
    const id = JSON.parse((await dds(['id', '--json', '--repo', a.repo])).stdout) as { addrs: string[] }
    expect(id.addrs.length).toBeGreaterThan(0)
    expect(id.addrs.some(addr => addr.includes('/p2p-circuit'))).toBe(false)
  })
})
