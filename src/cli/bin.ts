#!/usr/bin/env node
/**
 * The `dds` executable. It checks the Node.js version before anything else
 * is loaded (libp2p would otherwise fail in confusing ways on an old one).
 *
 * @module
 */

import { assertSupportedRuntime } from '../runtime.js'

try {
  assertSupportedRuntime()
} catch (err) {
  process.stderr.write(`dds: ${(err as Error).message}\n`)
  process.exit(1)
}

// a reader of stdout that goes away (`dds ls | head -1`) ends the command
// quietly; another write error (a full disk) ends it with one line
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') {
    process.exit(0)
  }
  process.stderr.write(`dds: cannot write to stdout: ${err.code === 'ENOSPC' ? 'no space left on the device' : err.message.replace(/\s+/g, ' ')}\n`)
  process.exit(1)
})

const { main } = await import('./program.js')
process.exitCode = await main(process.argv)
// Ends the process if something (a socket, a timer of a stopped node) would
// keep it alive after the command finished.
setTimeout(() => process.exit(), 2000).unref()
