import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { resultJson } from "../../../runtime/cli/json-output.js"

describe("run --json output", () => {
  it("writes what JSON.stringify writes for JSON data, keys in their own order", () => {
    const values: unknown[] = [
      { zeta: 1, alpha: [true, null, 't"x\n'], mid: { "odd key": -0.5, e: 1e21 } },
      [1, undefined, () => 1, Number.NaN, Number.POSITIVE_INFINITY, { skipped: undefined, kept: 0 }],
      "text",
      null,
      [],
      {},
      { date: new Date(0), nested: [[[]], [{}]] },
    ]
    for (const value of values) assert.equal(resultJson(value), JSON.stringify(value))
    assert.equal(resultJson(undefined), "null")
  })

  it("writes BigInts as text, Maps as objects and Sets as lists", () => {
    const value = {
      n: 12345678901234567890n,
      m: new Map<unknown, unknown>([
        ["b", 1],
        [2, new Set([3n])],
      ]),
    }
    assert.equal(resultJson(value), '{"n":"12345678901234567890","m":{"b":1,"2":["3"]}}')
  })

  it("writes a value nested 100,000 deep", () => {
    let value: unknown = 1
    for (let i = 0; i < 100_000; i++) value = i % 2 === 0 ? [value] : { v: value }
    const text = resultJson(value)
    assert.equal(text.length, (100_000 / 2) * ("[]".length + '{"v":}'.length) + 1)
  })
})
