import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { decode, encode } from "../../runtime/codec.js"
import { isReductioError } from "../../runtime/errors.js"
import { task } from "reductio"

const roundTrip = (value: unknown) => decode(encode(value))

describe("codec", () => {
  it("round-trips the types JSON lacks", () => {
    const value = {
      date: new Date(1_700_000_000_000),
      map: new Map<unknown, unknown>([
        [1, "one"],
        ["two", [2]],
      ]),
      set: new Set(["a", 3]),
      big: 12345678901234567890n,
      small: 7n,
      bytes: new Uint8Array([1, 2, 3]),
      missing: undefined,
      nested: [null, true, 1.5, -0.25, "text"],
    }
    assert.deepEqual(roundTrip(value), value)
  })

  it("keeps a Buffer's bytes", () => {
    assert.deepEqual(roundTrip(Buffer.from("abc")), new Uint8Array([97, 98, 99]))
  })

  it("rebuilds errors with name, message, code and stack", () => {
    const error = Object.assign(new TypeError("bad"), { code: "E_BAD" })
    const back = roundTrip(error) as Error & { code?: string }
    assert.equal(back.name, "TypeError")
    assert.equal(back.message, "bad")
    assert.equal(back.code, "E_BAD")
    assert.equal(back.stack, error.stack)
  })

  it("keeps the insertion order of object keys, Map entries and Set members, as part of the value", () => {
    const object = roundTrip({ zeta: 1, alpha: 2, mid: 3 }) as Record<string, number>
    assert.deepEqual(Object.keys(object), ["zeta", "alpha", "mid"])
    const map = roundTrip(
      new Map<unknown, string>([
        ["y", "1"],
        [2, "2"],
        ["x", "3"],
      ]),
    ) as Map<unknown, string>
    assert.deepEqual([...map.keys()], ["y", 2, "x"])
    assert.deepEqual([...(roundTrip(new Set([3, 1, 2])) as Set<number>)], [3, 1, 2])
    assert.notDeepEqual(encode({ a: 1, b: 2 }), encode({ b: 2, a: 1 }))
    assert.notDeepEqual(encode(new Set([1, 2])), encode(new Set([2, 1])))
    assert.notDeepEqual(encode([1, 2]), encode([2, 1]))
  })

  it("encodes equal values built the same way to the same bytes", () => {
    const build = () => ({ name: "s1", tags: new Set(["b", "a"]), at: new Date(5), sizes: new Map([["x", 1n]]) })
    assert.deepEqual(encode(build()), encode(build()))
  })

  it("encodes lazy expressions and decodes them as expressions", () => {
    const double = task("test.codec.double", (x: number) => x * 2)
    const bytes = encode({ result: double(2).valueOf === undefined ? 0 : double(2) })
    const decoded = decode(bytes) as { result: { kind: string; task: string; args: unknown[] } }
    assert.equal(decoded.result.kind, "call")
    assert.equal(decoded.result.task, "test.codec.double")
    assert.deepEqual(decoded.result.args, [2])
  })

  it("round-trips graphs where an expression is shared by several parents", () => {
    const inc = task("test.codec.inc", (x: number) => x + 1)
    const add = task("test.codec.add", (a: number, b: number) => a + b)
    const t = inc(1)
    const decoded = decode(encode([t, add(t, inc(t)), { t, again: inc(inc(t)) }])) as unknown[]
    const [first, sum, record] = decoded as [object, { args: unknown[] }, { t: object; again: { args: [{ args: [object] }] } }]
    assert.equal(sum.args[0], first)
    assert.equal((sum.args[1] as { args: unknown[] }).args[0], first)
    assert.equal(record.t, first)
    assert.equal(record.again.args[0].args[0], first)
  })

  it("names the path of a value it cannot encode", () => {
    class Connection {}
    const cases: [unknown, string][] = [
      [[1, { conn: new Connection() }], "args[1].conn"],
      [[() => 1], "args[0]"],
      [[{ "odd key": Symbol("s") }], 'args[0]["odd key"]'],
      [[new Map([["k", new Connection()]])], 'args[0].get("k")'],
    ]
    for (const [value, path] of cases) {
      assert.throws(
        () => encode(value, "args"),
        (error: unknown) => isReductioError(error, "UNENCODABLE_VALUE") && error.details?.path === path,
      )
    }
  })

  it("refuses bytes that are not an encoding", () => {
    assert.throws(
      () => decode(new Uint8Array([0xff, 0x00, 0x13])),
      (error: unknown) => isReductioError(error, "UNDECODABLE_VALUE"),
    )
  })
})
