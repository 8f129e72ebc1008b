// Counts the bytes this process reads from TCP sockets (payload of the TCP
// stream: DDS or Bitswap frames plus Noise, Yamux, identify and DHT traffic),
// for every socket libp2p opens or accepts. Works the same for any libp2p
// application, so DDS and Helia are measured alike.
import diagnostics from 'node:diagnostics_channel'

const sockets = new Set()
let tracking = false

/** Starts tracking sockets; call before the node opens any. */
export function trackSockets () {
  if (tracking) {
    return
  }
  tracking = true
  const add = ({ socket }) => { sockets.add(socket) }
  diagnostics.subscribe('net.client.socket', add)
  diagnostics.subscribe('net.server.socket', add)
}

/** Total bytes read so far from every tracked socket, open or closed. */
export function socketBytesRead () {
  let total = 0
  for (const socket of sockets) {
    total += socket.bytesRead ?? 0
  }
  return total
}
