#!/usr/bin/env node
// Small network programs the testbed's tests and demo run inside hosts:
// echo servers that tell a client which source address:port they saw (how
// NAT mappings are observed), and a TCP sink/sender for transfer rates.
// Servers print `listening <port>` once ready; clients print one JSON line.
//
//   probe.mjs udp-echo PORT
//   probe.mjs udp-ask LOCAL_PORT ADDR:PORT [ADDR:PORT ...] [--timeout MS]
//       one UDP socket (LOCAL_PORT, 0 = any) asks each echo server;
//       prints {"local":port,"seen":{"ADDR:PORT":"addr:port" | null}}
//   probe.mjs udp-burst ADDR:PORT COUNT
//       sends COUNT numbered datagrams back to back to an udp-echo and
//       prints {"sent","received","reordered"} (replies out of sequence)
//   probe.mjs tcp-echo PORT
//   probe.mjs tcp-ask ADDR:PORT [--timeout MS]
//       prints {"seen":"addr:port"} or {"seen":null,"error":"..."}
//   probe.mjs sink PORT
//       takes one TCP connection, prints {"bytes","ms"} (first byte to end)
//   probe.mjs send ADDR:PORT BYTES
//       sends BYTES bytes, prints {"bytes","ms"} (connect to close)
//   probe.mjs answer PORT BYTES
//       answers each byte a client sends with BYTES bytes (a block server)
//   probe.mjs ask ADDR:PORT BYTES COUNT IDLE_MS
//       on one connection, COUNT times: sends a byte, times until BYTES came
//       back, waits IDLE_MS; prints {"connectMs","ms":[...]}
import { createSocket } from 'node:dgram'
import { createConnection, createServer } from 'node:net'

const [command, ...args] = process.argv.slice(2)
const DEFAULT_TIMEOUT_MS = 3000

function option (name, fallback) {
  const i = args.indexOf(name)
  if (i < 0) {
    return fallback
  }
  const value = Number(args[i + 1])
  args.splice(i, 2)
  return value
}

const timeoutMs = option('--timeout', DEFAULT_TIMEOUT_MS)

function target (text) {
  const i = text.lastIndexOf(':')
  return { address: text.slice(0, i), port: Number(text.slice(i + 1)) }
}

function print (value) {
  process.stdout.write(JSON.stringify(value) + '\n')
}

const commands = {
  'udp-echo' ([port]) {
    const socket = createSocket('udp4')
    socket.on('message', (msg, rinfo) => {
      socket.send(`${rinfo.address}:${rinfo.port} ${msg}`, rinfo.port, rinfo.address)
    })
    socket.bind(Number(port), () => { console.log(`listening ${socket.address().port}`) })
  },

  'udp-ask' ([localPort, ...targets]) {
    const socket = createSocket('udp4')
    const seen = Object.fromEntries(targets.map(t => [t, null]))
    const finish = () => {
      clearInterval(resend)
      print({ local: socket.address().port, seen })
      socket.close()
    }
    const ask = () => {
      for (const t of targets) {
        if (seen[t] == null) {
          const { address, port } = target(t)
          socket.send('ask', port, address)
        }
      }
    }
    socket.on('message', (msg, rinfo) => {
      const from = `${rinfo.address}:${rinfo.port}`
      if (from in seen && seen[from] == null) {
        seen[from] = String(msg).split(' ')[0]
        if (Object.values(seen).every(v => v != null)) {
          clearTimeout(deadline)
          finish()
        }
      }
    })
    const resend = setInterval(ask, 200)
    const deadline = setTimeout(finish, timeoutMs)
    socket.bind(Number(localPort), ask)
  },

  'udp-burst' ([to, count]) {
    const { address, port } = target(to)
    const n = Number(count)
    const socket = createSocket('udp4')
    let received = 0
    let reordered = 0
    let last = -1
    let idle
    const finish = () => {
      print({ sent: n, received, reordered })
      socket.close()
    }
    socket.on('message', (msg) => {
      const seq = Number(String(msg).split(' ')[1])
      received++
      if (seq < last) {
        reordered++
      }
      last = Math.max(last, seq)
      clearTimeout(idle)
      idle = setTimeout(finish, received === n ? 0 : 1500)
    })
    socket.bind(0, () => {
      for (let i = 0; i < n; i++) {
        socket.send(String(i), port, address)
      }
      idle = setTimeout(finish, DEFAULT_TIMEOUT_MS)
    })
  },

  'tcp-echo' ([port]) {
    const server = createServer((socket) => {
      socket.on('error', () => {})
      socket.end(`${socket.remoteAddress}:${socket.remotePort}\n`)
    })
    server.listen(Number(port), '0.0.0.0', () => { console.log(`listening ${server.address().port}`) })
  },

  'tcp-ask' ([to]) {
    const { address, port } = target(to)
    let text = ''
    const socket = createConnection({ host: address, port, timeout: timeoutMs })
    socket.setEncoding('utf8')
    socket.on('data', (s) => { text += s })
    socket.on('end', () => { print({ seen: text.trim() }) })
    socket.on('timeout', () => { print({ seen: null, error: `no answer within ${timeoutMs} ms` }); socket.destroy() })
    socket.on('error', (err) => { print({ seen: null, error: err.message }) })
  },

  answer ([port, bytes]) {
    const block = Buffer.alloc(Number(bytes), 7)
    const server = createServer((socket) => {
      socket.setNoDelay(true)
      socket.on('data', (data) => {
        for (let i = 0; i < data.length; i++) socket.write(block)
      })
      socket.on('error', () => {})
    })
    server.listen(Number(port), () => { console.log(`listening ${server.address().port}`) })
  },

  ask ([to, bytes, count, idleMs]) {
    const { address, port } = target(to)
    const want = Number(bytes)
    const started = performance.now()
    const socket = createConnection({ host: address, port, noDelay: true })
    const out = { connectMs: 0, ms: [] }
    let got = 0
    let done
    socket.on('data', (data) => {
      got += data.length
      if (got >= want) { got -= want; done() }
    })
    socket.on('error', (err) => { print({ ...out, error: err.message }); process.exit(1) })
    // the server went away while an answer was awaited
    socket.on('close', () => { if (out.ms.length < Number(count)) { print({ ...out, error: 'connection closed' }); process.exit(1) } })
    socket.on('connect', async () => {
      out.connectMs = Math.round(performance.now() - started)
      for (let i = 0; i < Number(count); i++) {
        await new Promise(resolve => setTimeout(resolve, Number(idleMs)))
        const answered = new Promise(resolve => { done = resolve })
        const sentAt = performance.now()
        socket.write('?')
        await answered
        out.ms.push(Math.round(performance.now() - sentAt))
      }
      print(out)
      socket.destroy()
    })
  },

  sink ([port]) {
    const server = createServer((socket) => {
      let bytes = 0
      let first
      socket.on('data', (chunk) => {
        first ??= process.hrtime.bigint()
        bytes += chunk.length
      })
      socket.on('end', () => {
        const ms = first == null ? 0 : Number(process.hrtime.bigint() - first) / 1e6
        socket.end()
        print({ bytes, ms })
        server.close()
      })
    })
    server.listen(Number(port), '0.0.0.0', () => { console.log(`listening ${server.address().port}`) })
  },

  send ([to, count]) {
    const { address, port } = target(to)
    const total = Number(count)
    const start = process.hrtime.bigint()
    const socket = createConnection({ host: address, port }, () => {
      const piece = Buffer.alloc(64 * 1024, 7)
      let left = total
      const write = () => {
        while (left > 0) {
          const n = Math.min(left, piece.length)
          left -= n
          if (!socket.write(n === piece.length ? piece : piece.subarray(0, n))) {
            socket.once('drain', write)
            return
          }
        }
        socket.end()
      }
      write()
    })
    socket.on('data', () => {})
    socket.on('close', () => { print({ bytes: total, ms: Number(process.hrtime.bigint() - start) / 1e6 }) })
    socket.on('error', (err) => { print({ error: err.message }); process.exitCode = 1 })
  }
}

const run = commands[command]
if (run == null) {
  console.error(`usage: probe.mjs ${Object.keys(commands).join('|')} ...`)
  process.exit(2)
}
run(args)
