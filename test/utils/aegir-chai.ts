/**
 * What `aegir/chai` gives the js-stores interface suites
 * (interface-blockstore-tests, interface-datastore-tests): chai's `expect`
 * with chai-as-promised (`.to.eventually`) and property assertions that may
 * also be called (`.to.be.true()`). Those suites import `aegir/chai` but do
 * not depend on aegir (their toolchain); vitest.config.ts points the import
 * here, so they run on vitest without it.
 */
import * as chai from 'chai'
import chaiAsPromised from 'chai-as-promised'

/** Property assertions the suites call as methods. */
const CALLED = ['true', 'false', 'ok', 'exist', 'null', 'undefined', 'empty'] as const

/**
 * Makes each of `CALLED` a chainable method: the assertion runs as the
 * property is read (as in plain chai), and calling it after that returns the
 * assertion to chain on.
 */
function callableProperties (lib: typeof chai, utils: Chai.ChaiUtils): void {
  const proto = lib.Assertion.prototype as unknown as Record<string, unknown>
  for (const name of CALLED) {
    const getter = Object.getOwnPropertyDescriptor(proto, name)?.get
    if (getter == null) {
      continue
    }
    lib.Assertion.addChainableMethod(name, function (this: Chai.AssertionStatic) { return this }, function (this: Chai.AssertionStatic) {
      getter.call(this)
    })
  }
}

chai.use(callableProperties as unknown as Chai.ChaiPlugin)
chai.use(chaiAsPromised)

export const expect = chai.expect
export const assert = chai.assert
export { chai }
