// The child side of a benchmark role. A role is one OS process: its options
// come as JSON in argv[2], requests from the orchestrator arrive over IPC as
// `{ id, op, ...args }` and are answered `{ id, ok: true, result }` or
// `{ id, ok: false, error }`. The op `stop` runs the role's cleanup and exits.
// A role whose parent goes away exits at once, so none is ever left behind.

/** The role's options (argv[2], JSON). */
export function roleOptions () {
  return JSON.parse(process.argv[2] ?? '{}')
}

/** Peak resident set size of this process so far, in bytes. */
export function peakRssBytes () {
  return process.resourceUsage().maxRSS * 1024
}

/**
 * Answers the orchestrator's requests with `handlers[op](request)` and tells
 * it the role is ready (with `info`).
 */
export function serve (handlers, { info = {}, stop = async () => {} } = {}) {
  process.on('disconnect', () => process.exit(2))
  process.on('message', (request) => {
    if (request?.op == null) {
      return
    }
    handle(handlers, stop, request).then(
      (result) => reply({ id: request.id, ok: true, result }, request.op === 'stop'),
      (err) => reply({ id: request.id, ok: false, error: describe(err) }, request.op === 'stop')
    )
  })
  process.send({ ready: true, info })
}

async function handle (handlers, stop, request) {
  if (request.op === 'stop') {
    await stop()
    return {}
  }
  const handler = handlers[request.op]
  if (handler == null) {
    throw new Error(`unknown op ${request.op}`)
  }
  return handler(request)
}

function reply (message, exitAfter) {
  process.send(message, () => {
    if (exitAfter) {
      process.exit(0)
    }
  })
}

function describe (err) {
  return { name: err?.name ?? 'Error', message: err?.message ?? String(err), stack: err?.stack }
}

/**
 * Samples `process.memoryUsage()` every `intervalMs` until stopped and keeps
 * the peak of each part, to tell where a peak RSS comes from (JS heap or
 * Buffers/ArrayBuffers outside it).
 */
export class MemorySampler {
  constructor (intervalMs = 50) {
    this.peak = { heapUsed: 0, arrayBuffers: 0 }
    this.timer = setInterval(() => this.sample(), intervalMs)
    this.timer.unref()
  }

  sample () {
    const m = process.memoryUsage()
    this.peak.heapUsed = Math.max(this.peak.heapUsed, m.heapUsed)
    this.peak.arrayBuffers = Math.max(this.peak.arrayBuffers, m.arrayBuffers)
  }

  stop () {
    clearInterval(this.timer)
    this.sample()
    return { peakHeapUsedBytes: this.peak.heapUsed, peakArrayBuffersBytes: this.peak.arrayBuffers }
  }
}
