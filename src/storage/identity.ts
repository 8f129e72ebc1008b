import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { StorageError } from '../errors.js'
import type { StorageProvider } from './index.js'
import type { LevelStorageProvider } from './level/index.js'
import { IDENTITY_SUBLEVEL } from './constants.js'

const PRIVATE_KEY = new TextEncoder().encode('private-key')

function isLevel (storage: StorageProvider): storage is LevelStorageProvider {
  return typeof (storage as Partial<LevelStorageProvider>).sublevel === 'function'
}

/**
 * The node identity kept in a persistent store, so a node keeps its peer id
 * across restarts: read from the store's `identity` sublevel, or created
 * (Ed25519) and saved there on first use. The key is stored unencrypted, with
 * the same file permissions as the store. Returns `undefined` for stores that
 * cannot hold it (memory, or a custom provider); such nodes get a new identity
 * each start.
 */
export async function persistentPrivateKey (storage: StorageProvider): Promise<PrivateKey | undefined> {
  if (!isLevel(storage)) {
    return undefined
  }
  const identity = storage.sublevel(IDENTITY_SUBLEVEL)
  const saved = await identity.get(PRIVATE_KEY)
  if (saved != null) {
    try {
      return privateKeyFromProtobuf(saved)
    } catch (err) {
      throw new StorageError(`the identity saved in ${storage.path} is damaged; move the store aside or pass privateKey`, { cause: err })
    }
  }
  const key = await generateKeyPair('Ed25519')
  await identity.put(PRIVATE_KEY, privateKeyToProtobuf(key))
  return key
}
