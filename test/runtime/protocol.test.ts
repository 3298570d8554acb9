import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { encode } from "../../runtime/codec.js"
import { isReductioError } from "../../runtime/errors.js"
import {
  type JobEntry,
  PROTOCOL_VERSION,
  arraySlotRange,
  decodeArrayInput,
  decodeArraySlot,
  decodeEntry,
  encodeArrayInput,
  encodeEntries,
  scratch,
} from "../../runtime/protocol.js"

const HASH = "ab".repeat(32)
const entry: JobEntry = { protocol: PROTOCOL_VERSION, evalHash: HASH, task: "t.add", args: [1, 2], options: {} }

describe("the scratch layout", () => {
  it("builds paths from hashes", () => {
    assert.equal(scratch.output("s3://bucket/scratch/", HASH), `s3://bucket/scratch/jobs/${HASH}/output`)
    assert.equal(scratch.arrayInput("/s", HASH.slice(0, 32)), `/s/arrays/${HASH.slice(0, 32)}/input`)
    assert.equal(scratch.jobFile("/s", HASH, "batch-job"), `/s/jobs/${HASH}/batch-job`)
    assert.equal(scratch.code("/s", HASH), `/s/code/${HASH}.tar.gz`)
  })

  const helpers = [scratch.jobInput, scratch.output, scratch.error, scratch.log, scratch.code]
  for (const bad of ["../../x", "../../../tmp/x", HASH.toUpperCase(), HASH.slice(1), `${HASH}/..`, ""]) {
    it(`refuses to build a path from the hash ${JSON.stringify(bad)} (INVALID_ARGUMENT)`, () => {
      for (const helper of helpers)
        assert.throws(
          () => helper("/s", bad),
          (error) => isReductioError(error, "INVALID_ARGUMENT"),
        )
    })
  }

  it("refuses an array id that is not 32 lowercase hex digits", () => {
    for (const bad of ["../../x", HASH, HASH.slice(0, 31), HASH.slice(0, 32).toUpperCase()]) {
      assert.throws(
        () => scratch.arrayInput("/s", bad),
        (error) => isReductioError(error, "INVALID_ARGUMENT"),
      )
    }
  })

  it("refuses a job file name that is not a plain name", () => {
    for (const name of ["../input", "a/b", ".hidden", ""]) {
      assert.throws(
        () => scratch.jobFile("/s", HASH, name),
        (error) => isReductioError(error, "INVALID_ARGUMENT"),
      )
    }
  })
})

describe("decodeEntry", () => {
  it("returns a well-formed entry, alone or from an array", () => {
    assert.deepEqual(decodeEntry(encodeEntries(entry)), entry)
    assert.deepEqual(decodeEntry(encodeEntries([entry, { ...entry, task: "t.two" }]), 1).task, "t.two")
  })

  const malformed: [string, unknown][] = [
    ["null", null],
    ["a number", 3],
    ["an array element that is null", [null]],
    ["a Map", new Map([["protocol", PROTOCOL_VERSION]])],
    ["a traversing eval hash", { ...entry, evalHash: "../../x" }],
    ["an eval hash in upper case", { ...entry, evalHash: HASH.toUpperCase() }],
    ["args that are not an array", { ...entry, args: "1,2" }],
    ["options that are null", { ...entry, options: null }],
    ["an empty task name", { ...entry, task: "" }],
  ]
  for (const [what, value] of malformed) {
    it(`refuses ${what} with INVALID_JOB_ENTRY`, () => {
      assert.throws(
        () => decodeEntry(encode(value), 0),
        (error) => isReductioError(error, "INVALID_JOB_ENTRY"),
      )
    })
  }

  it("refuses another protocol version before anything else (PROTOCOL_MISMATCH)", () => {
    assert.throws(
      () => decodeEntry(encode({ protocol: 999, evalHash: "whatever" })),
      (error) => isReductioError(error, "PROTOCOL_MISMATCH"),
    )
  })

  for (const index of [undefined, 2, -1, 0.5, Number.NaN, 2 ** 60]) {
    it(`refuses the index ${index} of a two-entry array (INVALID_ARGUMENT)`, () => {
      assert.throws(
        () => decodeEntry(encodeEntries([entry, entry]), index),
        (error) => isReductioError(error, "INVALID_ARGUMENT"),
      )
    })
  }
})

describe("the indexed array input", () => {
  const entries = [0, 1, 2].map((i): JobEntry => ({ ...entry, evalHash: String(i).repeat(64), args: [i] }))
  const bytes = encodeArrayInput(entries)

  it("gives each index its entry from its slot and its entry's range alone", () => {
    for (const index of [0, 1, 2]) {
      const range = arraySlotRange(index)
      const slot = decodeArraySlot(bytes.subarray(range.start, range.end + 1), index)
      assert.ok(slot !== undefined)
      assert.deepEqual(decodeArrayInput(bytes, index).args, [index])
    }
  })

  it("reads a protocol 1 input (one encoded list) too", () => {
    assert.deepEqual(decodeArrayInput(encodeEntries(entries), 2).args, [2])
  })

  it("refuses an index outside the array (INVALID_ARGUMENT)", () => {
    assert.throws(
      () => decodeArrayInput(bytes, 3),
      (error) => isReductioError(error, "INVALID_ARGUMENT"),
    )
    assert.throws(
      () => arraySlotRange(-1),
      (error) => isReductioError(error, "INVALID_ARGUMENT"),
    )
  })

  for (const [what, field, value] of [
    ["an offset inside the slot table", 8, 0],
    ["a zero length", 12, 0],
    ["a length over the limit", 12, 0xffffffff],
    ["a length past the file", 12, 100_000],
  ] as const) {
    it(`refuses a slot with ${what} (INVALID_JOB_ENTRY)`, () => {
      const hostile = new Uint8Array(bytes)
      new DataView(hostile.buffer).setUint32(16 * 2 + field, value)
      assert.throws(
        () => decodeArrayInput(hostile, 1),
        (error) => isReductioError(error, "INVALID_JOB_ENTRY"),
      )
    })
  }
})
