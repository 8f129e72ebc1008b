import type { CID } from 'multiformats/cid'
import { componentLog, silentLog, type DdsLogger } from '../log/index.js'
import { exportCar } from './export.js'
import { importCar } from './import.js'
import type { CarSource } from './decode.js'
import type { CarComponents, CarService, ExportCarOptions, ImportCarOptions } from './index.js'

/** What the export and import functions use: the components, and the part's log. */
export interface CarParts extends CarComponents {
  log: DdsLogger
}

/** The CarService implementation; created through `carService()`. */
export class DdsCar implements CarService {
  private readonly parts: CarParts
  private readonly readAhead: number

  constructor (components: CarComponents, readAhead: number) {
    this.parts = { ...components, log: components.logger != null ? componentLog(components.logger, 'dds:car') : silentLog }
    this.readAhead = readAhead
  }

  export (cid: CID, options: ExportCarOptions = {}): AsyncGenerator<Uint8Array> {
    return exportCar(cid, options, this.parts, this.readAhead)
  }

  async import (source: CarSource, options: ImportCarOptions = {}): Promise<string[]> {
    return importCar(source, options, this.parts)
  }
}
