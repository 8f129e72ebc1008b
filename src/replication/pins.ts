import type { CID } from 'multiformats/cid'
import { cidToString, parseCid } from '../cid.js'
import type { RecordStore } from '../storage/index.js'

/** Why a node keeps content: it published or pinned it (`local`), or holds it for another peer (`replica`). */
export type PinKind = 'local' | 'replica'

/** One pin, as listed by `Dds.pins()`. */
export interface Pin {
  /** The manifest CID, base58btc. */
  cid: string
  kind: PinKind
  /** `complete` once every block is in the store; `fetching` while a pin or replica fetch runs (or was interrupted). */
  state: 'complete' | 'fetching'
  /** Content size in bytes (0 until the manifest is known). */
  size: number
  /** The name recorded in the manifest (written by pin and replica fetches; `Dds.pins()` reads it from the manifest otherwise). */
  name?: string
  /** For replicas: the peer that asked for the copy. */
  for?: string
  /** Peers a fetch may start from. */
  sources?: string[]
  /** When the pin was made (ms since the epoch). */
  pinnedAt: number
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/**
 * The pins of a node, one record per manifest CID. A pin is written as
 * `fetching` before a fetch starts and as `complete` only after the last
 * block is stored, so after a crash a pin never claims blocks it lacks.
 */
export class PinIndex {
  private readonly records: RecordStore

  constructor (records: RecordStore) {
    this.records = records
  }

  async get (cid: CID): Promise<Pin | undefined> {
    const value = await this.records.get(cidToString(cid))
    return value == null ? undefined : JSON.parse(decoder.decode(value)) as Pin
  }

  async put (pin: Pin): Promise<void> {
    await this.records.put(pin.cid, encoder.encode(JSON.stringify(pin)))
  }

  async delete (cid: CID): Promise<void> {
    await this.records.delete(cidToString(cid))
  }

  /** Every pin, in the order of their CID strings; from the first CID string greater than `after` when given. */
  async * list (options: { after?: string } = {}): AsyncGenerator<Pin & { manifest: CID }> {
    for await (const [, value] of this.records.entries(options)) {
      const pin = JSON.parse(decoder.decode(value)) as Pin
      yield { ...pin, manifest: parseCid(pin.cid) }
    }
  }
}
