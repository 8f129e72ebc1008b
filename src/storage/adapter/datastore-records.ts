import { Key } from 'interface-datastore'
import { InvalidInputError } from '../../errors.js'
import { DATASTORE_PREFIX } from '../constants.js'
import { assertRecordKey, compareUtf8, type RecordStore } from '../records.js'
import { isNotFound, storeError } from './semantics.js'
import type { Datastore, Pair } from 'interface-datastore'

const STORE = 'datastore'

/**
 * The record table `table` in a datastore: record `key` is the datastore key
 * `/dds/<table>/<key>`, so DDS's records keep to their own namespace and a
 * datastore may be shared with other users of other namespaces.
 *
 * `entries` asks the datastore to sort (a `query` with `orders`): a datastore
 * need not list keys in order, and most that are not sorted collect the
 * prefix's records in memory to sort them (pin records are a few hundred
 * bytes each).
 */
export function datastoreRecords (datastore: Datastore, table: string): RecordStore {
  if (!/^[a-z][a-z0-9-]*$/.test(table)) {
    throw new InvalidInputError(`record table name ${JSON.stringify(table)} must be lower-case letters, digits and "-"`)
  }
  const prefix = `${DATASTORE_PREFIX}/${table}/`
  const keyOf = (key: string): Key => new Key(prefix + assertRecordKey(key, table), false)
  const nameOf = (key: Key): string => key.toString().slice(prefix.length)
  return {
    get: async (key) => {
      try {
        return await datastore.get(keyOf(key))
      } catch (err) {
        if (isNotFound(err)) {
          return undefined
        }
        throw storeError(err, STORE, `reading record ${table}/${key}`)
      }
    },
    put: async (key, value) => {
      try {
        await datastore.put(keyOf(key), value)
      } catch (err) {
        throw storeError(err, STORE, `writing record ${table}/${key}`)
      }
    },
    delete: async (key) => {
      try {
        await datastore.delete(keyOf(key))
      } catch (err) {
        throw storeError(err, STORE, `deleting record ${table}/${key}`)
      }
    },
    entries: async function * (options = {}) {
      const after = options.after
      try {
        const query = datastore.query({
          prefix,
          filters: after != null ? [(pair: Pair) => compareUtf8(nameOf(pair.key), after) > 0] : [],
          orders: [(a: Pair, b: Pair) => Math.sign(compareUtf8(a.key.toString(), b.key.toString())) as -1 | 0 | 1]
        })
        for await (const pair of query) {
          yield [nameOf(pair.key), pair.value]
        }
      } catch (err) {
        throw storeError(err, STORE, `listing records of ${table}`)
      }
    }
  }
}
