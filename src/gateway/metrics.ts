import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type Metric } from 'prom-client'
import type { DdsStats, GatewayNode } from './types.js'

/** The Prometheus metrics of one gateway, in a registry of its own. */
export interface GatewayMetrics {
  readonly registry: Registry
  /** Counts one HTTP request the gateway answered. */
  observeRequest(method: string, route: string, status: number, seconds: number): void
}

const OUTCOMES = ['ok', 'notFound', 'integrity', 'aborted', 'timeout', 'error'] as const
const PIN_KINDS = ['local', 'replica'] as const
const PIN_STATES = ['complete', 'fetching'] as const

/** Sets a counter to a total the node keeps (the node counts; the counter reports). */
function setTotal (counter: Counter<string>, value: number, labels?: Record<string, string>): void {
  if (labels == null) {
    counter.reset()
    counter.inc(value)
  } else {
    counter.remove(labels)
    counter.inc(labels, value)
  }
}

/** What one scrape reads of pins: counts by kind and state, and how many are below their replication target. */
interface PinSummary {
  counts: Map<string, number>
  below: number
}

async function summarisePins (node: GatewayNode): Promise<PinSummary> {
  const counts = new Map<string, number>()
  let below = 0
  for (const pin of await node.pins()) {
    const key = `${pin.kind}/${pin.state}`
    counts.set(key, (counts.get(key) ?? 0) + 1)
    // a pin removed between the listing and this read has no status to count
    const status = await node.replicationStatus(pin.cid).catch(() => undefined)
    if (status != null && status.lastCheck > 0 && status.live.length < status.target) {
      below++
    }
  }
  return { counts, below }
}

/** Shares one call of `read` between the metrics collected in one scrape. */
function perScrape<T> (read: () => Promise<T>): () => Promise<T> {
  let current: Promise<T> | undefined
  return async () => {
    current ??= read().finally(() => { setImmediate(() => { current = undefined }) })
    return current
  }
}

function nodeMetrics (node: GatewayNode): Metric[] {
  const stats = (): DdsStats => node.stats()
  const store = perScrape(async () => node.storage.stats())
  const pins = perScrape(async () => summarisePins(node))
  const totals: Array<[string, string, (s: DdsStats) => number]> = [
    ['dds_chunks_served_total', 'Blocks this node served to peers', s => s.chunksServed],
    ['dds_bytes_served_total', 'Bytes of the blocks this node served to peers', s => s.bytesServed],
    ['dds_chunks_fetched_total', 'Verified chunks this node fetched from peers', s => s.chunksFetched],
    ['dds_bytes_fetched_total', 'Bytes of the verified chunks this node fetched from peers', s => s.bytesFetched],
    ['dds_providers_found_total', 'Provider records found by DHT lookups', s => s.providersFound]
  ]
  return [
    ...totals.map(([name, help, read]) => new Counter({
      name, help, registers: [], collect () { setTotal(this, read(stats())) }
    })),
    new Counter({
      name: 'dds_retrievals_total',
      help: 'Retrievals that ended, by outcome',
      labelNames: ['outcome'],
      registers: [],
      collect () {
        const s = stats()
        for (const outcome of OUTCOMES) {
          setTotal(this, s.retrievals[outcome], { outcome })
        }
      }
    }),
    ...bandwidthMetrics(stats),
    new Gauge({ name: 'dds_peers', help: 'Peers connected now', registers: [], collect () { this.set(stats().peers) } }),
    new Gauge({ name: 'dds_store_blocks', help: 'Blocks in the local store', registers: [], async collect () { this.set((await store()).blocks) } }),
    new Gauge({ name: 'dds_store_bytes', help: 'Bytes of the blocks in the local store', registers: [], async collect () { this.set((await store()).bytes) } }),
    new Gauge({
      name: 'dds_pins',
      help: 'Pins by kind (local, replica) and state (complete, fetching)',
      labelNames: ['kind', 'state'],
      registers: [],
      async collect () {
        const { counts } = await pins()
        for (const kind of PIN_KINDS) {
          for (const state of PIN_STATES) {
            this.set({ kind, state }, counts.get(`${kind}/${state}`) ?? 0)
          }
        }
      }
    }),
    new Gauge({
      name: 'dds_replication_below_target',
      help: 'Pinned content whose last replication check found fewer live copies than the factor',
      registers: [],
      async collect () { this.set((await pins()).below) }
    })
  ]
}

const DIRECTIONS = ['upload', 'download'] as const

/** The bandwidth limits in force and the chunk traffic that went through them. */
function bandwidthMetrics (stats: () => DdsStats): Metric[] {
  const perDirection = (name: string, help: string, read: (s: DdsStats['bandwidth']['upload']) => number): Counter<string> => new Counter({
    name,
    help,
    labelNames: ['direction'],
    registers: [],
    collect () {
      const bandwidth = stats().bandwidth
      for (const direction of DIRECTIONS) {
        setTotal(this, read(bandwidth[direction]), { direction })
      }
    }
  })
  return [
    new Gauge({
      name: 'dds_bandwidth_limit_bytes_per_second',
      help: 'Configured bandwidth limits of chunk traffic (upload, download, upload_per_peer); 0 means unlimited',
      labelNames: ['limit'],
      registers: [],
      collect () {
        const { limits } = stats().bandwidth
        this.set({ limit: 'upload' }, limits.upload ?? 0)
        this.set({ limit: 'download' }, limits.download ?? 0)
        this.set({ limit: 'upload_per_peer' }, limits.uploadPerPeer ?? 0)
      }
    }),
    perDirection('dds_bandwidth_bytes_total', 'Chunk traffic bytes that went through the bandwidth limiter, by direction', d => d.bytes),
    perDirection('dds_bandwidth_waits_total', 'Times chunk traffic waited for bandwidth tokens, by direction', d => d.waits),
    perDirection('dds_bandwidth_wait_seconds_total', 'Time chunk traffic spent waiting for bandwidth tokens, by direction (parallel waits add up)', d => d.waitMs / 1000),
    new Counter({
      name: 'dds_upload_pacing_waits_total',
      help: 'Answers held back by the pacing of competing peers (network.fairUpload, with no upload limit)',
      registers: [],
      collect () { setTotal(this, stats().bandwidth.pacing?.waits ?? 0) }
    }),
    new Counter({
      name: 'dds_upload_pacing_wait_seconds_total',
      help: 'Time answers were held back by the pacing of competing peers (parallel waits add up)',
      registers: [],
      collect () { setTotal(this, (stats().bandwidth.pacing?.waitMs ?? 0) / 1000) }
    })
  ]
}

/**
 * Creates the metrics of a gateway serving `node`: the node's counters and
 * its store, pins and replication figures read at each scrape, prom-client's
 * default process metrics, and the gateway's HTTP requests.
 */
export function createMetrics (node: GatewayNode): GatewayMetrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  for (const metric of nodeMetrics(node)) {
    registry.registerMetric(metric)
  }
  const requests = new Counter({
    name: 'dds_gateway_http_requests_total',
    help: 'HTTP requests the gateway answered, by method, route and status',
    labelNames: ['method', 'route', 'status'],
    registers: [registry]
  })
  const durations = new Histogram({
    name: 'dds_gateway_http_request_duration_seconds',
    help: 'Time from an HTTP request to the end of its response, by method and route',
    labelNames: ['method', 'route'],
    buckets: [0.005, 0.025, 0.1, 0.5, 2.5, 10, 60],
    registers: [registry]
  })
  return {
    registry,
    observeRequest (method, route, status, seconds) {
      requests.inc({ method, route, status: String(status) })
      durations.observe({ method, route }, seconds)
    }
  }
}
