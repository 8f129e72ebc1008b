/**
 * `gateway.close()` with clients still connected: an idle keep-alive
 * connection, a download being streamed and an upload being read. close()
 * must end them all (aborting what they started) rather than wait for the
 * clients, and once the node stops too no socket is left open.
 */
import { Agent, request as httpRequest, type IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import type { Dds } from '../../src/index.js'
import { startGateway } from '../../src/gateway/index.js'
import { http, watchPublishes } from './helpers.js'
import { CHUNK_SIZE, pseudoRandomBytes } from '../utils/content.js'
import { Cluster } from '../utils/cluster.js'
import { waitFor } from '../utils/wait.js'

/** TCP sockets and servers this process holds open. */
function tcpHandles (): number {
  return process.getActiveResourcesInfo().filter(r => r === 'TCPSocketWrap' || r === 'TCPServerWrap').length
}

/** Resolves once `socket` closed (an idle one sees its end at once). */
async function closed (socket: Socket): Promise<void> {
  if (!socket.destroyed) {
    await new Promise(resolve => socket.once('close', resolve))
  }
}

describe('gateway.close() with clients connected', () => {
  const cluster = new Cluster()
  /** 32 MiB: far more than the retrieving node fetches ahead, so the download is still running at close(). */
  const size = 32 * 1024 * 1024
  let baseline: number
  let a: Dds
  let b: Dds
  let cid: string

  beforeAll(async () => {
    baseline = tcpHandles()
    a = await cluster.node()
    b = await cluster.node({ bootstrap: a.getMultiaddrs(), retrieval: { window: 4 } })
    cid = await a.publish(pseudoRandomBytes(size, 50))
  })
  afterAll(async () => {
    await cluster.stop()
  })

  it('ends keep-alive, downloading and uploading connections, aborts their work, and leaves no socket once the nodes stop', async () => {
    const watched = watchPublishes(b)
    const gateway = await startGateway(watched.node, { host: '127.0.0.1', port: 0 })

    // an idle keep-alive connection, left open by its agent
    const agent = new Agent({ keepAlive: true })
    const idle = await new Promise<Socket>((resolve, reject) => {
      httpRequest(`${gateway.url}/health`, { agent }, (res) => {
        const socket = res.socket
        res.resume()
        res.on('end', () => { resolve(socket) })
      }).on('error', reject).end()
    })
    expect(idle.destroyed).toBe(false)

    // a download whose client stopped reading after the first bytes
    const abortedBefore = b.stats().retrievals.aborted
    const download = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = httpRequest(`${gateway.url}/dds/${cid}`, { agent: false }, (res) => {
        res.once('data', () => { res.pause(); resolve(res) })
      })
      req.on('error', reject)
      req.end()
    })
    expect(download.statusCode).toBe(200)
    download.on('error', () => {})

    // an upload whose client sent part of its body and then nothing
    const upload = httpRequest(`${gateway.url}/api/v1/publish`, { method: 'POST', headers: { 'Transfer-Encoding': 'chunked' }, agent: false })
    upload.on('error', () => {})
    upload.write(pseudoRandomBytes(2 * CHUNK_SIZE, 51))
    while (watched.publishes.length === 0) {
      await new Promise(resolve => setImmediate(resolve))
    }
    await watched.publishes[0]!.reading

    await gateway.close()

    await closed(idle)
    // the paused client sees the end of its connection once it reads again: before all the content
    let received = 0
    download.on('data', (part: Buffer) => { received += part.byteLength })
    const ended = new Promise(resolve => download.once('close', resolve))
    download.resume()
    await ended
    expect(download.complete).toBe(false)
    expect(received).toBeLessThan(size)
    await expect(watched.publishes[0]!.result).rejects.toThrow()
    await waitFor(() => b.stats().retrievals.aborted > abortedBefore, 'the download\'s retrieval to end as aborted')
    expect(b.stats().chunksFetched).toBeLessThan(size / CHUNK_SIZE)
    expect(await b.pins()).toEqual([])
    await expect(http(`${gateway.url}/health`)).rejects.toThrow(/ECONNREFUSED/)

    agent.destroy()
    await cluster.stop()
    await waitFor(() => tcpHandles() <= baseline, `the TCP handles to go back to ${baseline} (open: ${tcpHandles()})`)
  })
})
