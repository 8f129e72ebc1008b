import { describe, it, expect } from 'vitest'
import { parseCid, cidForBlock, cidToString, blockMatchesCid, CID_BYTE_LENGTH } from '../src/cid.js'

// CIDv1 raw sha2-256 of the empty byte string: a well-known value.
const EMPTY_BASE32 = 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku'

describe('cid', () => {
  it('computes the raw sha2-256 CIDv1 of a block and prints it in base58btc', () => {
    const cid = cidForBlock(new Uint8Array(0))
    expect(cid.toString()).toBe(EMPTY_BASE32)
    expect(cidToString(cid).startsWith('z')).toBe(true)
    expect(cid.bytes.byteLength).toBe(CID_BYTE_LENGTH)
  })

  it('accepts base58btc, base32 and binary forms of the same CID', () => {
    const cid = cidForBlock(new TextEncoder().encode('hello'))
    const fromB58 = parseCid(cidToString(cid))
    const fromB32 = parseCid(cid.toString())
    const fromBytes = parseCid(cid.bytes)
    expect(fromB58.equals(cid)).toBe(true)
    expect(fromB32.equals(cid)).toBe(true)
    expect(fromBytes.equals(cid)).toBe(true)
    expect(parseCid(cid).equals(cid)).toBe(true)
  })

  it.each([
    ['', 'empty'],
    ['hello', 'garbage'],
    ['QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG', 'CIDv0'],
    ['bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi', 'dag-pb codec'],
    ['bafkr4ihkr4ld3m4gqkjf4reryxsy2s5tkbxprqkow6fin2iiyvreuzzab4', 'blake3 hash'],
    ['z' + '1'.repeat(300), 'too long']
  ])('rejects %j (%s) with InvalidInputError', (text) => {
    expect(() => parseCid(text)).toThrowError(expect.objectContaining({ name: 'InvalidInputError' }))
  })

  describe('says what is wrong with a CID string, not what its decoder read', () => {
    const cid = cidToString(cidForBlock(new TextEncoder().encode('a chunk')))
    const b32 = cidForBlock(new TextEncoder().encode('a chunk')).toString()
    const messageOf = (text: string): string => {
      try {
        parseCid(text)
      } catch (err) {
        return (err as Error).message
      }
      throw new Error(`${text} parsed`)
    }

    it.each([
      [cid.slice(0, -1), 'cut short (48 characters where a DDS CID in base58btc has 49); copy the whole CID'],
      [cid.slice(0, 20), 'cut short (20 characters where a DDS CID in base58btc has 49)'],
      [b32.slice(0, -1), 'cut short (58 characters where a DDS CID in base32 has 59)'],
      [`${cid}x`, 'too long (50 characters where a DDS CID in base58btc has 49)'],
      [`${cid.slice(0, 10)}0${cid.slice(11)}`, 'a character base58btc does not use (base58btc has no 0, O, I or l)'],
      ['not-a-cid', 'is not a CID: a DDS CID is a CIDv1 string that starts with z']
    ])('%j: %s', (text, expected) => {
      const message = messageOf(text)
      expect(message).toContain(expected)
      expect(message.startsWith(`"${text}"`)).toBe(true)
      expect(message).not.toMatch(/Invalid CID version|Non-base58|Unexpected end/)
    })
  })

  it('rejects binary garbage with InvalidInputError', () => {
    expect(() => parseCid(new Uint8Array([1, 2, 3]))).toThrowError(expect.objectContaining({ name: 'InvalidInputError' }))
  })

  it('verifies bytes against a CID', () => {
    const bytes = new TextEncoder().encode('chunk')
    const cid = cidForBlock(bytes)
    expect(blockMatchesCid(cid, bytes)).toBe(true)
    expect(blockMatchesCid(cid, new TextEncoder().encode('chunK'))).toBe(false)
  })
})
