import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { encode } from "../../../runtime/codec.js"
import { mayHoldExpressions } from "../../../runtime/scheduler/cached-value.js"
import { task } from "reductio-workflow"

describe("mayHoldExpressions", () => {
  const inc = task("test.cached-value.inc", (x: number) => x + 1)

  it("finds expressions written as call nodes, as full expressions, and nested as before tables", () => {
    assert.equal(mayHoldExpressions(encode([inc(1), inc(2)])), true)
    assert.equal(mayHoldExpressions(encode({ later: inc.options({ name: "n" })(3) })), true)
    // A value from before expression tables: tag 40120 nested in place.
    assert.equal(mayHoldExpressions(Uint8Array.from([0x81, 0xd9, 0x9c, 0xb8, 0xa0])), true)
  })

  it("is false for plain data", () => {
    assert.equal(mayHoldExpressions(encode({ rows: [1, 2, 3], name: "inc" })), false)
  })
})
