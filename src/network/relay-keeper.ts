/**
 * Keeps a node that is not publicly reachable listening through a relay.
 *
 * A node behind a NAT router has no address other peers can dial: its
 * interfaces carry private addresses, and nothing confirms the address
 * its router shows the world. Such a node reserves a slot on a relay it is
 * connected to (a peer that speaks circuit relay v2's HOP protocol, its
 * bootstrap peers first) and announces the relayed address
 * `<relay address>/p2p/<relay>/p2p-circuit/p2p/<self>`; peers reach it through
 * the relay and then try for a direct connection.
 *
 * A node that is publicly reachable (an address it announces, a public IP on
 * one of its own addresses, or a port UPnP mapped on its router) makes
 * no reservation: it costs relays nothing. One reservation is kept at a time;
 * when its relay goes away the next relay-capable peer takes its place.
 *
 * @module
 */

import type { ComponentLogger, Logger, PeerId, Startable, TypedEventTarget, Libp2pEvents, Connection } from '@libp2p/interface'
import type { AddressManager, ConnectionManager, Registrar, TransportManager } from '@libp2p/interface-internal'
import { RELAY_V2_HOP_CODEC } from '@libp2p/circuit-relay-v2'
import { isPrivate } from '@libp2p/utils'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { RELAY_CHECK_INTERVAL_MS, RELAY_RETRY_MS } from './constants.js'

/** Tries of one relay when its reservation collides with the transport's own relay discovery, and the pause between them. */
const RESERVE_ATTEMPTS = 5
const RESERVE_RETRY_MS = 200

export interface RelayKeeperInit {
  /** Peer ids (strings) to try first as relays: the node's bootstrap peers. */
  preferred?: string[]
  /** The node announces addresses of its own: it is reachable and needs no relay. */
  announcing?: boolean
}

export interface RelayKeeperComponents {
  peerId: PeerId
  logger: ComponentLogger
  registrar: Registrar
  transportManager: TransportManager
  addressManager: AddressManager
  connectionManager: ConnectionManager
  events: TypedEventTarget<Libp2pEvents>
}

/** What the keeper reports: whether it holds a reservation and through which relay. */
export interface RelayKeeper {
  /** The relay this node listens through, if any. */
  readonly relay: string | undefined
  /** Whether others can dial this node without a relay: it announces addresses, has a public IP of its own, or one confirmed from outside. */
  reachable(): boolean
}

/** True for an address others may dial from anywhere: a public IP or a DNS name, not a relayed address. */
export function isPublicAddress (ma: Multiaddr): boolean {
  const text = ma.toString()
  if (text.includes('/p2p-circuit')) {
    return false
  }
  if (/^\/dns(4|6|addr)?\//.test(text)) {
    return true
  }
  try {
    return isPrivate(ma) !== true
  } catch {
    return false
  }
}

class DdsRelayKeeper implements RelayKeeper, Startable {
  private readonly components: RelayKeeperComponents
  private readonly init: RelayKeeperInit
  private readonly log: Logger
  private readonly relays = new Set<string>()
  private topologyId?: string
  private timer?: ReturnType<typeof setInterval>
  private retry?: ReturnType<typeof setTimeout>
  private reserving = false
  private running = false
  private current?: string

  constructor (components: RelayKeeperComponents, init: RelayKeeperInit) {
    this.components = components
    this.init = init
    this.log = components.logger.forComponent('dds:relay-keeper')
  }

  readonly [Symbol.toStringTag] = 'dds:relay-keeper'

  get relay (): string | undefined {
    return this.listeningThroughRelay() ? this.current : undefined
  }

  async start (): Promise<void> {
    this.running = true
    this.topologyId = await this.components.registrar.register(RELAY_V2_HOP_CODEC, {
      onConnect: (peer) => {
        this.relays.add(peer.toString())
        this.check()
      },
      onDisconnect: (peer) => {
        this.relays.delete(peer.toString())
        this.check()
      }
    })
    this.components.events.addEventListener('self:peer:update', this.onSelfUpdate)
    this.timer = setInterval(() => { this.check() }, RELAY_CHECK_INTERVAL_MS)
    this.timer.unref?.()
  }

  async stop (): Promise<void> {
    this.running = false
    clearInterval(this.timer)
    clearTimeout(this.retry)
    this.components.events.removeEventListener('self:peer:update', this.onSelfUpdate)
    if (this.topologyId != null) {
      this.components.registrar.unregister(this.topologyId)
    }
    this.relays.clear()
  }

  private readonly onSelfUpdate = (): void => { this.check() }

  private listeningThroughRelay (): boolean {
    return this.components.transportManager.getAddrs().some(ma => ma.toString().includes('/p2p-circuit')) ||
      this.components.addressManager.getAddresses().some(ma => ma.toString().includes('/p2p-circuit'))
  }

  /** Whether others can dial this node without a relay. */
  reachable (): boolean {
    if (this.init.announcing === true) {
      return true
    }
    // a public IP on one of its own interfaces counts before anyone
    // confirmed it (libp2p shares such an address only once AutoNAT has);
    // an address others observed or a router mapped counts once confirmed
    return this.components.addressManager.getAddressesWithMetadata()
      .some(a => isPublicAddress(a.multiaddr) && (a.type === 'transport' || a.verified))
  }

  private check (): void {
    if (!this.running || this.reserving || this.relays.size === 0) {
      return
    }
    if (this.reachable() || this.listeningThroughRelay()) {
      return
    }
    const candidates = [...this.relays].sort((a, b) => this.rank(a) - this.rank(b))
    this.reserving = true
    void this.reserve(candidates).finally(() => { this.reserving = false })
  }

  private rank (peer: string): number {
    const i = this.init.preferred?.indexOf(peer) ?? -1
    return i < 0 ? Number.MAX_SAFE_INTEGER : i
  }

  private async reserve (candidates: string[]): Promise<void> {
    await this.tryRelays(candidates)
    if (this.running && !this.listeningThroughRelay() && !this.reachable()) {
      // every relay declined or failed: ask again a little later
      clearTimeout(this.retry)
      this.retry = setTimeout(() => { this.check() }, RELAY_RETRY_MS)
      this.retry.unref?.()
    }
  }

  private async tryRelays (candidates: string[]): Promise<void> {
    for (const peer of candidates) {
      if (!this.running) {
        return
      }
      const connection = this.components.connectionManager.getConnections()
        .find(c => c.remotePeer.toString() === peer && c.status === 'open' && c.limits == null)
      if (connection == null) {
        continue
      }
      const addr = relayListenAddress(connection)
      for (let attempt = 1; ; attempt++) {
        try {
          await this.components.transportManager.listen([addr])
          this.current = peer
          this.log('listening through relay %s as %a', peer, addr)
          return
        } catch (err) {
          // the transport's own relay discovery may be handling the same
          // peer at that moment (and declining it): ask again once it is done
          if (attempt < RESERVE_ATTEMPTS && String((err as Error).message).includes('HadEnoughRelaysError')) {
            await new Promise(resolve => setTimeout(resolve, RESERVE_RETRY_MS))
            continue
          }
          this.log.error('relay %s refused a reservation - %e', peer, err)
          break
        }
      }
    }
  }
}

/** `<relay's address>/p2p/<relay>/p2p-circuit`: what listening through that relay means. */
function relayListenAddress (connection: Connection): Multiaddr {
  const peer = connection.remotePeer.toString()
  const base = connection.remoteAddr.toString().replace(/\/p2p\/[^/]+$/, '')
  return multiaddr(`${base}/p2p/${peer}/p2p-circuit`)
}

/** The libp2p service factory of the relay keeper. */
export function relayKeeper (init: RelayKeeperInit = {}): (components: RelayKeeperComponents) => RelayKeeper {
  return (components) => new DdsRelayKeeper(components, init)
}
