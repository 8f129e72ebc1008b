// Two DDS nodes in one process: one publishes, the other retrieves.
//
// Run it with:  npm run example:two-nodes
//
// Node A publishes a short text. Node B joins the network through A, finds
// the content on the DHT, fetches and verifies it, and prints it.
import { Dds } from '@digisocialblock/dds'

const a = await Dds.create()
const b = await Dds.create({ bootstrap: a.getMultiaddrs() })

try {
  const text = 'Hello from node A. Every byte of this was verified against its SHA-256.'
  const cid = await a.publish(new TextEncoder().encode(text))
  console.log(`A (${a.peerId}) published ${cid}`)

  const bytes = await b.retrieveBytes(cid)
  console.log(`B (${b.peerId}) retrieved ${bytes.byteLength} bytes: ${new TextDecoder().decode(bytes)}`)
} finally {
  await b.stop()
  await a.stop()
}
