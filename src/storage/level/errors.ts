import { DdsError, StorageError } from '../../errors.js'

interface LevelError {
  code?: unknown
  message?: unknown
  cause?: LevelError
}

function codeOf (err: unknown): unknown {
  return (err as LevelError | undefined)?.code
}

/** True when opening failed because another process or instance holds the LevelDB LOCK file. */
export function isLockedError (err: unknown): boolean {
  return codeOf(err) === 'LEVEL_LOCKED' || codeOf((err as LevelError | undefined)?.cause) === 'LEVEL_LOCKED'
}

/** The error of a call on a store that has been closed. */
export function closedError (path: string, what: string): StorageError {
  return new StorageError(`cannot ${what}: the LevelDB store at ${path} is closed; create a new store to open it again`)
}

/** The error of opening a directory another process or store instance is using. */
export function lockedError (path: string, cause: unknown): StorageError {
  return new StorageError(
    `cannot open the LevelDB store at ${path}: another process (or another store in this process) is using it; ` +
    'stop that node or choose a different storage path', { cause })
}

/**
 * Turns an error thrown by `level` into a `StorageError` that names the
 * operation and the path. DDS errors (aborts, invalid input) pass through.
 */
export function toStorageError (err: unknown, path: string, what: string): Error {
  if (err instanceof DdsError) {
    return err
  }
  if (isLockedError(err)) {
    return lockedError(path, err)
  }
  if (codeOf(err) === 'LEVEL_DATABASE_NOT_OPEN') {
    return new StorageError(`cannot ${what}: the LevelDB store at ${path} is not open (it was closed or failed to open)`, { cause: err })
  }
  const message = err instanceof Error ? err.message : String(err)
  return new StorageError(`${what} failed on the LevelDB store at ${path}: ${message}`, { cause: err })
}
