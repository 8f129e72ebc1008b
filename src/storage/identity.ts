import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { StorageError } from '../errors.js'
import { recordStore } from './records.js'
import { IDENTITY_TABLE, PRIVATE_KEY_RECORD } from './constants.js'
import type { StorageProvider } from './index.js'

/**
 * The node identity kept in the store's `identity` record table, so a node
 * keeps its peer id across restarts: read from there, or created (Ed25519)
 * and saved there on first use. In a LevelDB store the table is the
 * `identity` sublevel; beside a blockstore it is `/dds/identity/private-key`
 * in the datastore; a memory store keeps it in memory (a new identity each
 * start). The key is stored unencrypted (libp2p's protobuf form), with the
 * protection the store gives its files.
 *
 * @throws {StorageError} when the saved key cannot be read
 */
export async function persistentPrivateKey (storage: StorageProvider): Promise<PrivateKey> {
  const identity = recordStore(storage, IDENTITY_TABLE)
  const saved = await identity.get(PRIVATE_KEY_RECORD)
  if (saved != null) {
    try {
      return privateKeyFromProtobuf(saved)
    } catch (err) {
      const path = (storage as { path?: unknown }).path
      const where = typeof path === 'string' ? ` in ${path}` : ''
      throw new StorageError(`the identity saved${where} (${storage.kind} store) is damaged; move the store aside or pass privateKey`, { cause: err })
    }
  }
  const key = await generateKeyPair('Ed25519')
  await identity.put(PRIVATE_KEY_RECORD, privateKeyToProtobuf(key))
  return key
}
