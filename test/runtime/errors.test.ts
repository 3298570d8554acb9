import assert from "node:assert/strict"
import { describe, it } from "node:test"
import {
  asErrorRecord,
  type ErrorRecord,
  exitCodeOf,
  fromErrorRecord,
  isErrorCode,
  isReductioError,
  ReductioError,
} from "../../runtime/errors.js"

describe("errors", () => {
  it("takes only reductio's own codes as ReductioError codes, never Object.prototype's names", () => {
    for (const code of ["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf", "isPrototypeOf"]) {
      assert.equal(isErrorCode(code), false, code)
      const error = fromErrorRecord({ name: "Error", message: "remote", code })
      assert.equal(isReductioError(error), false, code)
      assert.equal((error as Error & { code?: string }).code, code)
      assert.equal(exitCodeOf(error), 1)
    }
    assert.equal(isReductioError(fromErrorRecord({ name: "ReductioError", message: "m", code: "NOT_FOUND" }), "NOT_FOUND"), true)
  })

  it("gives exit code 1 for a ReductioError whose code was replaced by an unknown one", () => {
    const error = new ReductioError("WORKFLOW_ERROR", "thrown by a workflow")
    Object.defineProperty(error, "code", { value: "constructor", enumerable: true })
    assert.equal(exitCodeOf(error), 1)
  })

  it("rebuilds a long cause chain without recursion, keeping the first 32 causes", () => {
    let record: ErrorRecord = { name: "Error", message: "root cause" }
    for (let i = 0; i < 100_000; i++) record = { name: "Error", message: `level ${i}`, cause: record }
    let error: unknown = fromErrorRecord(record)
    let causes = 0
    while (error instanceof Error && error.cause !== undefined) {
      error = error.cause
      causes++
    }
    assert.equal(causes, 31)
  })

  it("accepts only records with the shape of an error record", () => {
    assert.ok(asErrorRecord({ name: "E", message: "m", stack: "s", code: "C", details: {}, cause: { name: "F", message: "n" } }))
    for (const bad of [
      null,
      3,
      [],
      { name: "E" },
      { name: 1, message: "m" },
      { name: "E", message: "m", cause: 5 },
      { name: "E", message: "m", details: 2 },
    ]) {
      assert.equal(asErrorRecord(bad), undefined, JSON.stringify(bad))
    }
  })
})
