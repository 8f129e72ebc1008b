// Three DDS nodes in one process: the retriever has never been connected to
// the publisher and finds it on the DHT.
//
// Run it with:  npm run example:three-nodes
//
// B is the hub. A (the publisher) and C (the retriever) each join through B
// only. A publishes 2 MiB; C looks the manifest up on the DHT, which names A,
// fetches every chunk from A, verifies it and checks the whole-content hash.
import { randomBytes, createHash } from 'node:crypto'
import { Dds } from '@digisocialblock/dds'

const b = await Dds.create()
const a = await Dds.create({ bootstrap: b.getMultiaddrs() })
const c = await Dds.create({ bootstrap: b.getMultiaddrs() })
const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex')

try {
  const content = randomBytes(2 * 1024 * 1024)
  const cid = await a.publish(content, {
    onProgress: (evt) => {
      if (evt.type === 'dds:publish:announced') console.log(`A announced ${evt.detail.cid} to ${evt.detail.peers} DHT peer(s)`)
    }
  })
  console.log(`A (${a.peerId}) published 2 MiB as ${cid}`)

  let received = 0
  for await (const piece of c.retrieve(cid, {
    onProgress: (evt) => {
      if (evt.type === 'dds:retrieve:manifest') console.log(`C got the manifest from ${evt.detail.from}: ${evt.detail.chunks} chunks, ${evt.detail.size} bytes`)
    }
  })) {
    received += piece.byteLength
  }
  console.log(`C (${c.peerId}) retrieved ${received} bytes`)

  const same = sha256(await c.retrieveBytes(cid)) === sha256(content)
  console.log(same ? 'content verified: C holds exactly what A published' : 'content MISMATCH')
  process.exitCode = same ? 0 : 1
} finally {
  await Promise.all([a.stop(), b.stop(), c.stop()])
}
