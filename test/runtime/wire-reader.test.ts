import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { CborWriter, MAJOR } from "../../runtime/cbor-writer.js"
import { decode, encode, MAX_DEPTH, TAGS } from "../../runtime/codec.js"
import { isReductioError } from "../../runtime/errors.js"
import { File, task } from "reductio-workflow"

/** Bytes written with the CBOR writer, for hand-made (often malformed) inputs. */
function cbor(write: (w: CborWriter) => void): Uint8Array {
  const writer = new CborWriter()
  write(writer)
  return writer.take()
}

const tag = (number: number, content: (w: CborWriter) => void) => (w: CborWriter) => {
  w.head(MAJOR.tag, number)
  content(w)
}
const list =
  (...items: ((w: CborWriter) => void)[]) =>
  (w: CborWriter) => {
    w.head(MAJOR.array, items.length)
    for (const item of items) item(w)
  }
const text = (value: string) => (w: CborWriter) => w.text(value)
const num = (value: number) => (w: CborWriter) => w.number(value)
const record =
  (fields: Record<string, (w: CborWriter) => void>) =>
  (w: CborWriter): void => {
    w.head(MAJOR.map, Object.keys(fields).length)
    for (const [key, value] of Object.entries(fields)) {
      w.text(key)
      value(w)
    }
  }
const ref = (id: number) => tag(TAGS.expressionRef, num(id))
const graph = (root: (w: CborWriter) => void, ...entries: ((w: CborWriter) => void)[]) =>
  tag(TAGS.expressionGraph, list(root, list(...entries)))
const callEntry = (args: (w: CborWriter) => void) =>
  tag(TAGS.expression, record({ kind: text("call"), task: text("test.reader.id"), args }))

const callNode = (args: (w: CborWriter) => void) => tag(TAGS.callNode, list(text("test.reader.id"), args))

const undecodable = (error: unknown) => isReductioError(error, "UNDECODABLE_VALUE")

/** Decoding either gives a value or fails with UNDECODABLE_VALUE: never another error. */
function decodesOrRefuses(bytes: Uint8Array): void {
  try {
    decode(bytes)
  } catch (error) {
    assert.ok(undecodable(error), `${Buffer.from(bytes).toString("hex")}: ${String(error)}`)
  }
}

/** A small deterministic generator (mulberry32), so every run tries the same inputs. */
function random(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

task("test.reader.id", (value: unknown) => value)
const identity = task("test.reader.identity", (value: unknown) => value)

function samples(): Uint8Array[] {
  const file = decode(cbor(tag(TAGS.file, record({ path: text("/data/sample.tsv"), hash: text("f".repeat(64)) }))))
  assert.ok(file instanceof File)
  return [
    encode({ zeta: 1, alpha: [true, null, undefined, 1.5, -7], mid: "text ✓" }),
    encode(
      new Map<unknown, unknown>([
        ["k", new Set([1, 2])],
        [3, new Date(7)],
      ]),
    ),
    encode([12345678901234567890n, new Uint8Array([1, 2, 3]), Object.assign(new Error("bad"), { code: "E_BAD" })]),
    encode({ calls: [identity(1), identity(identity(2))], again: identity(1) }),
    encode([file]),
  ]
}

describe("wire reader: hostile bytes", () => {
  it("refuses every truncation of a valid encoding", () => {
    for (const bytes of samples()) {
      for (let length = 0; length < bytes.length; length++) assert.throws(() => decode(bytes.subarray(0, length)), undecodable)
    }
  })

  it("gives a value or UNDECODABLE_VALUE for random bytes and for mutated encodings, never another error", () => {
    const next = random(15)
    for (let i = 0; i < 3000; i++) {
      const bytes = new Uint8Array(1 + Math.floor(next() * 48))
      for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(next() * 256)
      decodesOrRefuses(bytes)
    }
    for (const valid of samples()) {
      for (let i = 0; i < 600; i++) {
        const bytes = Uint8Array.from(valid)
        const changes = 1 + Math.floor(next() * 3)
        for (let c = 0; c < changes; c++) bytes[Math.floor(next() * bytes.length)] = Math.floor(next() * 256)
        decodesOrRefuses(bytes)
      }
    }
  })

  it("refuses tags whose content has the wrong shape", () => {
    const cases: Record<string, (w: CborWriter) => void> = {
      "a File that is a number": tag(TAGS.file, num(5)),
      "a File with a numeric path": tag(TAGS.file, record({ path: num(5), hash: text("x") })),
      "a Dir that is a list": tag(TAGS.dir, list(text("/d"))),
      "a staging file without its remote": tag(TAGS.stagingFile, record({ local: text("a") })),
      "a Map that is not a list": tag(TAGS.map, num(1)),
      "a Map entry that is not a pair": tag(TAGS.map, list(list(num(1)))),
      "a Set that is not a list": tag(TAGS.set, record({})),
      "a Date that is text": tag(TAGS.date, text("today")),
      "a BigInt that is not digits": tag(TAGS.bigint, text("12a")),
      "an error that is a number": tag(TAGS.error, num(3)),
      "an error without a message": tag(TAGS.error, record({ name: text("Error") })),
      "an unknown tag": tag(49_999, num(1)),
      "a reference outside a table": list(ref(0)),
      "a table that is a map": tag(TAGS.expressionGraph, record({})),
      "a table of three parts": tag(TAGS.expressionGraph, list(num(1), list(), num(2))),
      "a table entry that is not an expression": graph(num(1), num(2)),
      "a reference beyond the table": graph(list(ref(3)), callEntry(list())),
      "an entry that refers to itself": graph(ref(0), callEntry(list(ref(0)))),
      "two entries that refer to each other": graph(ref(0), callEntry(list(ref(1))), callEntry(list(ref(0)))),
      "an expression of no known kind": graph(ref(0), tag(TAGS.expression, record({ kind: text("launch") }))),
      "a call whose args are not a list": graph(
        ref(0),
        tag(TAGS.expression, record({ kind: text("call"), task: text("t"), args: num(1) })),
      ),
      "an expression inside the root of a table": graph(callEntry(list()), callEntry(list())),
      "a table inside a table": graph(graph(num(1)), callEntry(list())),
      "a reference as a Set member": graph(tag(TAGS.set, list(ref(0))), callEntry(list())),
      "a reference as a Map key": graph(tag(TAGS.map, list(list(ref(0), num(1)))), callEntry(list())),
      "a reference inside a File": graph(tag(TAGS.file, record({ path: ref(0), hash: text("h") })), callEntry(list())),
      "a reference directly inside a tag": graph(tag(TAGS.date, ref(0)), callEntry(list())),
      "a call node outside a table": callNode(list()),
      "a call node in the root of a table": graph(callNode(list()), callEntry(list())),
      "a call node that is an object": graph(ref(0), tag(TAGS.callNode, record({ task: text("t"), args: list() }))),
      "a call node of three parts": graph(ref(0), tag(TAGS.callNode, list(text("t"), list(), num(1)))),
      "a call node whose task is a number": graph(ref(0), tag(TAGS.callNode, list(num(1), list()))),
      "a call node whose args are not a list": graph(ref(0), tag(TAGS.callNode, list(text("t"), num(1)))),
      "a call node that refers to itself": graph(ref(0), callNode(list(ref(0)))),
    }
    for (const [name, write] of Object.entries(cases)) {
      assert.throws(() => decode(cbor(write)), undecodable, name)
    }
  })

  it("refuses malformed CBOR: indefinite lengths, reserved forms, trailing bytes, bad text, lying lengths", () => {
    const cases: Record<string, number[]> = {
      "no bytes": [],
      "an indefinite list": [0x9f, 0x01, 0xff],
      "a lone break": [0xff],
      "reserved additional info": [0x1c],
      "a simple value": [0xe0],
      "trailing bytes": [0x01, 0x02],
      "text that is not UTF-8": [0x62, 0xc3, 0x28],
      "long text that is not UTF-8": [0x78, 30, ...new Array(29).fill(0x61), 0xff],
      "a list longer than the bytes": [0x9a, 0xff, 0xff, 0xff, 0xff, 0x00],
      "a map longer than the bytes": [0xbb, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00],
      "bytes longer than the input": [0x5a, 0x00, 0x10, 0x00, 0x00, 0x00],
      "an integer beyond 2^53": [0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
      "a numeric object key": [0xa1, 0x01, 0x02],
    }
    for (const [name, bytes] of Object.entries(cases)) {
      assert.throws(() => decode(Uint8Array.from(bytes)), undecodable, name)
    }
  })

  it("refuses bytes nested deeper than the depth limit without overflowing the stack", () => {
    const deep = new Uint8Array(MAX_DEPTH + 5).fill(0x81)
    deep[deep.length - 1] = 0x00
    assert.throws(
      () => decode(deep),
      (error: unknown) => undecodable(error) && new RegExp(String(MAX_DEPTH)).test((error as Error).message),
    )
  })

  it("keeps a __proto__ key as plain data, never as the prototype", () => {
    const decoded = decode(cbor(record({ ["__proto__"]: record({ polluted: num(1) }), ok: num(2) }))) as Record<string, unknown>
    assert.equal(Object.getPrototypeOf(decoded), Object.prototype)
    assert.deepEqual(Object.keys(decoded), ["__proto__", "ok"])
    assert.equal(({} as Record<string, unknown>).polluted, undefined)
  })

  it("rebuilds a table whose entries refer to later and earlier entries, in place", () => {
    const decoded = decode(
      cbor(graph(list(ref(1), ref(0)), callEntry(list(num(1))), callEntry(list(ref(0), tag(TAGS.map, list(list(text("k"), ref(0)))))))),
    ) as [{ args: unknown[] }, { args: unknown[] }]
    const [second, first] = decoded
    assert.equal(second.args[0], first)
    assert.equal((second.args[1] as Map<string, unknown>).get("k"), first)
  })

  it("reads a call node [task, args] as the call it stands for, refs in its args replaced in place", () => {
    const compact = decode(cbor(graph(list(ref(1)), callNode(list(num(1))), callNode(list(ref(0), num(2)))))) as [{ args: unknown[] }]
    const tabled = decode(cbor(graph(list(ref(1)), callEntry(list(num(1))), callEntry(list(ref(0), num(2)))))) as [{ args: unknown[] }]
    assert.deepEqual(compact, tabled)
    assert.equal((compact[0].args[0] as { args: unknown[] }).args[0], 1)
  })
})
