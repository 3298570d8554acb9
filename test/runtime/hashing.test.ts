import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { encode } from "../../runtime/codec.js"
import {
  argsHashOf,
  CACHE_VERSION,
  callHashOf,
  evalHashOf,
  normalizeSource,
  recordBytesForTest,
  sha256,
  taskHash,
  valueHashOf,
} from "../../runtime/hashing.js"

describe("hashing", () => {
  it("gives 64-digit lowercase hex sha256 hashes", () => {
    assert.match(taskHash("t", { source: "x => x" }), /^[0-9a-f]{64}$/)
  })

  it("changes the task hash with the source, not with formatting", () => {
    const a = taskHash("t", { source: "(x) => x + 1" })
    assert.equal(a, taskHash("t", { source: "(x)  =>\n  x + 1" }))
    assert.notEqual(a, taskHash("t", { source: "(x) => x + 2" }))
    assert.notEqual(a, taskHash("u", { source: "(x) => x + 1" }))
  })

  it("pins the task hash with a version", () => {
    assert.equal(taskHash("t", { version: "1" }), taskHash("t", { version: "1" }))
    assert.notEqual(taskHash("t", { version: "1" }), taskHash("t", { version: "2" }))
    assert.notEqual(taskHash("t", { version: "1" }, encode(["config-a"])), taskHash("t", { version: "1" }, encode(["config-b"])))
  })

  it("never collides across kinds for the same bytes", () => {
    const bytes = encode([1, 2, 3])
    assert.notEqual(argsHashOf(bytes), valueHashOf(bytes))
  })

  it("derives eval and call hashes from their parts", () => {
    const t = taskHash("t", { version: "1" })
    const args = argsHashOf(encode([1]))
    const value = valueHashOf(encode(2))
    assert.notEqual(evalHashOf(t, args), evalHashOf(t, argsHashOf(encode([2]))))
    assert.notEqual(callHashOf(t, args, value, []), callHashOf(t, args, value, [evalHashOf(t, args)]))
  })

  it("writes hash records exactly as the canonical encoder does", () => {
    const long = "x".repeat(70_000)
    const cases: Parameters<typeof recordBytesForTest>[] = [
      ["task", ["name", "source", "(x) => x", null]],
      ["args", [new Uint8Array(300).fill(7)]],
      ["call", ["a".repeat(64), "b".repeat(64), "c".repeat(64), ["d".repeat(64), "é ✓"]]],
      ["value", [new Uint8Array(0)]],
      ["task", [long, "version", "1", new Uint8Array(23)]],
    ]
    for (const [kind, parts] of cases) {
      const { direct, general } = recordBytesForTest(kind, parts)
      assert.deepEqual(Buffer.from(direct), Buffer.from(general))
    }
  })

  it("hashes key order: the same keys in another order are another value and another cache key", () => {
    assert.notEqual(argsHashOf(encode([{ a: 1, b: 2 }])), argsHashOf(encode([{ b: 2, a: 1 }])))
    assert.notEqual(
      valueHashOf(
        encode(
          new Map([
            ["a", 1],
            ["b", 2],
          ]),
        ),
      ),
      valueHashOf(
        encode(
          new Map([
            ["b", 2],
            ["a", 1],
          ]),
        ),
      ),
    )
    assert.equal(valueHashOf(encode({ zeta: 1, alpha: 2 })), valueHashOf(encode({ zeta: 1, alpha: 2 })))
  })

  it("puts the cache version in the eval hash, so evaluations recorded before version 2 miss once", () => {
    const t = taskHash("t", { version: "1" })
    const args = argsHashOf(encode([1]))
    const { direct: before } = recordBytesForTest("eval", [t, args])
    const { direct: now } = recordBytesForTest("eval", [CACHE_VERSION, t, args])
    assert.equal(CACHE_VERSION, "2")
    assert.notEqual(evalHashOf(t, args), sha256(before))
    assert.equal(evalHashOf(t, args), sha256(now))
  })

  it("collapses whitespace in sources", () => {
    assert.equal(normalizeSource("  a\n\t b  "), "a b")
  })
})
