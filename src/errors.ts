/**
 * The errors DDS throws. Every class has a stable `name` (also available as a
 * static property) so callers can branch on `err.name` without `instanceof`
 * across package copies.
 *
 * @module
 */

/** Base class of every error DDS throws on purpose. */
export class DdsError extends Error {
  static override name = 'DdsError'
  override name = 'DdsError'

  constructor (message: string, options?: ErrorOptions) {
    super(message, options)
  }
}

/**
 * Input from a caller, a peer or the command line was not acceptable: a CID
 * string that is not a CIDv1 raw sha2-256 CID, a manifest that does not
 * decode, a negative size limit, and so on. The message says what to fix.
 */
export class InvalidInputError extends DdsError {
  static override name = 'InvalidInputError'
  override name = 'InvalidInputError'

  constructor (message = 'Invalid input', options?: ErrorOptions) {
    super(message, options)
  }
}

/** No reachable peer (nor the local store) holds the requested block. */
export class NotFoundError extends DdsError {
  static override name = 'NotFoundError'
  override name = 'NotFoundError'

  constructor (message = 'Not found', options?: ErrorOptions) {
    super(message, options)
  }
}

/**
 * Bytes did not match the hash that names them: a chunk whose SHA-256 differs
 * from its CID, or content whose whole-content SHA-256 or size differs from its
 * manifest. No unverified byte is stored or handed out; this error says why.
 */
export class IntegrityError extends DdsError {
  static override name = 'IntegrityError'
  override name = 'IntegrityError'

  constructor (message = 'Integrity check failed', options?: ErrorOptions) {
    super(message, options)
  }
}

/** An operation ran past its deadline. */
export class TimeoutError extends DdsError {
  static override name = 'TimeoutError'
  override name = 'TimeoutError'

  constructor (message = 'Timed out', options?: ErrorOptions) {
    super(message, options)
  }
}

/** An operation was cancelled through its `AbortSignal`. */
export class AbortError extends DdsError {
  static override name = 'AbortError'
  override name = 'AbortError'

  constructor (message = 'The operation was aborted', options?: ErrorOptions) {
    super(message, options)
  }
}

/** A peer answered with REJECTED: its policy does not allow the request. */
export class RejectedError extends DdsError {
  static override name = 'RejectedError'
  override name = 'RejectedError'

  constructor (message = 'The peer rejected the request', options?: ErrorOptions) {
    super(message, options)
  }
}

/**
 * A peer broke the wire protocol: an oversized or undecodable frame, a response
 * to a request that was never sent, a response of the wrong kind.
 */
export class ProtocolError extends DdsError {
  static override name = 'ProtocolError'
  override name = 'ProtocolError'

  constructor (message = 'Protocol violation', options?: ErrorOptions) {
    super(message, options)
  }
}

/** A peer answered BUSY or ERROR, or the request could not be delivered. */
export class RemoteError extends DdsError {
  static override name = 'RemoteError'
  override name = 'RemoteError'

  constructor (message = 'The peer could not serve the request', options?: ErrorOptions) {
    super(message, options)
  }
}

/**
 * A peer answered BUSY: it is at one of its request limits and asks to be
 * asked again later, not that it lacks what was asked for. `retryAfterMs` is
 * how long it asked the requester to wait (0: it gave no hint).
 */
export class BusyError extends RemoteError {
  static override name = 'BusyError'
  override name = 'BusyError'
  readonly retryAfterMs: number

  constructor (message = 'The peer is busy', retryAfterMs = 0, options?: ErrorOptions) {
    super(message, options)
    this.retryAfterMs = retryAfterMs
  }
}

/**
 * Chunks move only over direct connections, and the only path to a peer went
 * through a relay: no direct connection could be made (by dialing its
 * addresses or by hole punching) in time. Another holder, or a node that is
 * publicly reachable, can still serve.
 */
export class NoDirectPathError extends RemoteError {
  static override name = 'NoDirectPathError'
  override name = 'NoDirectPathError'

  constructor (message = 'The peer is reachable only through a relay', options?: ErrorOptions) {
    super(message, options)
  }
}

/** The local store failed, or was used after it was closed. */
export class StorageError extends DdsError {
  static override name = 'StorageError'
  override name = 'StorageError'

  constructor (message = 'Storage failure', options?: ErrorOptions) {
    super(message, options)
  }
}

/** A node method was called after `stop()`, or before the node started. */
export class NotStartedError extends DdsError {
  static override name = 'NotStartedError'
  override name = 'NotStartedError'

  constructor (message = 'The node is not started', options?: ErrorOptions) {
    super(message, options)
  }
}

/** The JavaScript runtime is too old for DDS (it needs Node.js 22 or newer). */
export class UnsupportedRuntimeError extends DdsError {
  static override name = 'UnsupportedRuntimeError'
  override name = 'UnsupportedRuntimeError'

  constructor (message = 'This runtime is not supported', options?: ErrorOptions) {
    super(message, options)
  }
}

/**
 * Turns the reason of an aborted signal into the error DDS throws: a
 * `TimeoutError` when the signal came from `AbortSignal.timeout`, otherwise an
 * `AbortError`.
 */
export function abortReason (signal: AbortSignal, what: string): DdsError {
  const reason: unknown = signal.reason
  if (reason instanceof DdsError) {
    return reason
  }
  if (reason instanceof Error && reason.name === 'TimeoutError') {
    return new TimeoutError(`${what} timed out`, { cause: reason })
  }
  return new AbortError(`${what} was aborted`, { cause: reason })
}

/** Throws the DDS error matching the signal's reason if the signal has aborted. */
export function throwIfAborted (signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted === true) {
    throw abortReason(signal, what)
  }
}
