import { UnsupportedRuntimeError } from './errors.js'

/** The oldest Node.js major version DDS runs on (libp2p 3 needs ES2024 APIs such as `Promise.withResolvers`). */
export const MIN_NODE_MAJOR = 22

/**
 * Throws a clear error on a runtime DDS cannot work on, instead of the
 * `ECONNRESET` every handshake would otherwise end in.
 */
export function assertSupportedRuntime (): void {
  const major = Number(process.versions.node.split('.')[0])
  const hasWithResolvers = typeof (Promise as unknown as { withResolvers?: unknown }).withResolvers === 'function'
  if (major < MIN_NODE_MAJOR || !hasWithResolvers) {
    throw new UnsupportedRuntimeError(`DDS needs Node.js ${MIN_NODE_MAJOR} or newer; this is Node.js ${process.versions.node}. Install a current Node.js (for example 24 LTS) and run again.`)
  }
}
