import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { encode as cborgEncode } from "cborg"
import { decode, encode, MAX_DEPTH, registerCodec } from "../../runtime/codec.js"
import { isReductioError } from "../../runtime/errors.js"
import { encodeAndHash } from "../../runtime/hashing.js"
import { task } from "reductio-workflow"

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

  it("writes a call without options as a call node [task, args], and one with options in full", () => {
    const inc = task("test.codec.compact", (x: number) => x + 1)
    const plain = encode([inc(7)])
    const named = encode([inc.options({ name: "seven" })(7)])
    // tag 40124 (d9 9cbc) holds [task, args]; tag 40120 (d9 9cb8) the call's fields.
    assert.ok(Buffer.from(plain).toString("hex").includes("d99cbc82"))
    assert.ok(!Buffer.from(named).toString("hex").includes("d99cbc"))
    assert.ok(plain.byteLength < named.byteLength - 20)
    const [call] = decode(plain) as [{ kind: string; task: string; args: unknown[]; options?: unknown }]
    assert.deepEqual({ ...call }, { kind: "call", task: "test.codec.compact", args: [7] })
    const [withOptions] = decode(named) as [{ options: { name: string } }]
    assert.equal(withOptions.options.name, "seven")
    assert.throws(
      () => encode([inc({ a: [() => 1] } as never)]),
      (error: unknown) => /in a call of test\.codec\.compact\)\.args\[0\]\.a\[0\]/.test((error as Error).message),
    )
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

/** Nests `leaf` `depth` times with `wrap`, without recursion. */
function nest(depth: number, wrap: (inner: unknown) => unknown, leaf: unknown = "leaf"): unknown {
  let value = leaf
  for (let i = 0; i < depth; i++) value = wrap(value)
  return value
}

/** How deep `value` nests through `unwrap` (which returns undefined at the leaf), and the leaf. */
function depthOf(value: unknown, unwrap: (outer: unknown) => unknown): [number, unknown] {
  let depth = 0
  let at = value
  for (let inner = unwrap(at); inner !== undefined; inner = unwrap(at)) {
    at = inner
    depth++
  }
  return [depth, at]
}

const unencodableAt = (path: string) => (error: unknown) =>
  isReductioError(error, "UNENCODABLE_VALUE") && error.details?.path === path && /cycle/.test(error.message)

class Cell {
  constructor(
    readonly label: string,
    public next: Cell | undefined,
  ) {}
}
registerCodec<Cell>({
  tag: 41_950,
  name: "Cell",
  is: (value): value is Cell => value instanceof Cell,
  encode: (cell) => ({ label: cell.label, next: cell.next }),
  decode: (data) => new Cell((data as Cell).label, (data as Cell).next),
})

describe("codec: cycles, depth and size", () => {
  it("refuses a cyclic object, array, Map or Set at once, naming where it refers back", () => {
    const object: Record<string, unknown> = { a: 1 }
    object.self = object
    const list: unknown[] = [1]
    list.push({ inner: [list] })
    const map = new Map<string, unknown>()
    map.set("k", [map])
    const set = new Set<unknown>()
    set.add({ back: set })
    assert.throws(() => encode(object, "args"), unencodableAt("args.self"))
    assert.throws(() => encode({ top: list }, "args"), unencodableAt("args.top[1].inner[0]"))
    assert.throws(() => encode(map, "args"), unencodableAt('args.get("k")[0]'))
    assert.throws(() => encode(set, "args"), unencodableAt("args.values[0].back"))
  })

  it("refuses a cycle that starts deep inside a value, and one through registered types", () => {
    const loop: Record<string, unknown> = {}
    loop.again = { loop }
    assert.throws(
      () => encode(nest(200, (inner) => [inner], loop)),
      (error: unknown) => isReductioError(error, "UNENCODABLE_VALUE"),
    )
    const first = new Cell("a", undefined)
    first.next = new Cell("b", first)
    assert.throws(
      () => encode([first]),
      (error: unknown) => isReductioError(error, "UNENCODABLE_VALUE") && /cycle/.test(error.message),
    )
  })

  it("encodes a part shared by several parents, deep or not, as a copy in each place", () => {
    const deepShared = nest(300, (inner) => ({ inner }))
    const value = [deepShared, { again: deepShared }, nest(100, (inner) => [inner], deepShared)]
    const back = roundTrip(value) as [unknown, { again: unknown }, unknown]
    const unwrapObject = (outer: unknown) => (outer as { inner?: unknown }).inner
    assert.deepEqual(depthOf(back[0], unwrapObject), [300, "leaf"])
    assert.deepEqual(depthOf(back[1].again, unwrapObject), [300, "leaf"])
    let diamond: unknown = "leaf"
    for (let level = 0; level < 14; level++) diamond = [diamond, diamond]
    assert.equal((roundTrip(diamond) as unknown[]).length, 2)
    assert.equal(encode(diamond).length, encode([[diamond, diamond]]).length / 2 - 1)
  })

  it("refuses a lazy value whose own arguments hold it", () => {
    const touch = task("test.codec.touch", (value: unknown) => value)
    const holder: Record<string, unknown> = {}
    holder.call = touch(holder)
    assert.throws(
      () => encode(holder, "result"),
      (error: unknown) => isReductioError(error, "UNENCODABLE_VALUE") && error.details?.path === "result.call",
    )
  })

  it("encodes, hashes and decodes values nested 100,000 deep: lists, objects, Maps", () => {
    const cases: [unknown, (outer: unknown) => unknown][] = [
      [nest(100_000, (inner) => [inner]), (outer) => (Array.isArray(outer) ? outer[0] : undefined)],
      [nest(100_000, (inner) => ({ inner })), (outer) => (outer as { inner?: unknown }).inner],
      [nest(30_000, (inner) => new Map([["k", inner]])), (outer) => (outer instanceof Map ? outer.get("k") : undefined)],
      [nest(100_000, (inner) => ({ head: 1, tail: [inner] })), (outer) => (outer as { tail?: unknown[] }).tail?.[0]],
    ]
    for (const [value, unwrap] of cases) {
      const { bytes, hash } = encodeAndHash(value)
      assert.match(hash, /^[0-9a-f]{64}$/)
      assert.deepEqual(depthOf(decode(bytes), unwrap), depthOf(value, unwrap))
    }
  })

  it("refuses a value nested deeper than its depth limit with a coded error naming the limit", () => {
    const tooDeep = (error: unknown) => isReductioError(error, "UNENCODABLE_VALUE") && error.details?.depthLimit === MAX_DEPTH
    // A Map is three levels (a tag, its list of pairs, a pair): a third of the limit in Maps is past it.
    assert.throws(() => encode(nest(MAX_DEPTH / 3 + 1, (inner) => new Map([[1, inner]]))), tooDeep)
    assert.throws(() => encode(nest(MAX_DEPTH + 1, (inner) => [inner], 1)), tooDeep)
  })

  it("encodes and decodes a million small rows", () => {
    const rows = Array.from({ length: 1_000_000 }, (_, i) => ({ id: i, name: `row ${i}`, ok: i % 2 === 0 }))
    const back = roundTrip(rows) as typeof rows
    assert.equal(back.length, 1_000_000)
    assert.deepEqual(back[999_999], { id: 999_999, name: "row 999999", ok: false })
  })

  it("writes text as standard CBOR, ASCII or not, short or long", () => {
    const texts = ["", "a", "hash", "é", "aé", `${"x".repeat(127)}é`, "x".repeat(128), "x".repeat(129), "日本語", "\u{1f600}"]
    for (const text of texts) {
      assert.deepEqual(Buffer.from(encode(text)), Buffer.from(cborgEncode(text)), JSON.stringify(text))
      assert.equal(decode(encode(text)), text)
    }
  })

  it("reads what earlier versions wrote: sorted keys, shorter floats, nested values", () => {
    const value = { b: [1.5, -2, 0.1, 65_504.5, 1e300, Number.NaN], a: { nested: ["text", true, null], n: 2 ** 40 } }
    assert.deepEqual(decode(cborgEncode(value)), value)
    assert.deepEqual(decode(new Uint8Array([0xf9, 0x3e, 0x00])), 1.5)
    assert.deepEqual(decode(new Uint8Array([0xfa, 0x3f, 0xc0, 0x00, 0x00])), 1.5)
  })
})
