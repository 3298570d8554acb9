import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { File, task } from "reductio-workflow"
import { callLabel, previewArgs, previewValue } from "../../runtime/preview.js"

const inc = task("test.preview.inc", (x: number) => x + 1)

describe("previews", () => {
  it("writes values on one line: strings quoted, Files by path, the first items of lists and objects", () => {
    assert.equal(previewValue("s1"), '"s1"')
    assert.equal(previewValue(10n), "10n")
    assert.equal(previewValue(new File("/data/reads.fq")), "File(/data/reads.fq)")
    assert.equal(previewValue(Array.from({ length: 9 }, (_, i) => i)), "[0, 1, 2, 3, 4, … 4 more]")
    assert.equal(previewValue({ sample: "s1", "odd key": true }), '{sample: "s1", "odd key": true}')
    assert.equal(previewValue(new Map([["a", 1]])), 'Map(1) {"a" => 1}')
    assert.equal(previewValue(inc(1)), "<call test.preview.inc>")
    assert.equal(previewValue(new Uint8Array(12)), "bytes(12)")
  })

  it("never exceeds the width, and keeps control characters off the terminal", () => {
    const long = previewValue({ text: "x".repeat(500), more: [1, 2, 3] }, 40)
    assert.ok(long.length <= 40, long)
    assert.ok(long.endsWith("…"))
    const hostile = previewValue(new Error("\u001b[2Jgone\nsecond line"))
    assert.equal(hostile.includes("\u001b"), false)
    assert.equal(hostile.includes("\n"), false)
  })

  it("previews a call's arguments, a script by its command's first line", () => {
    assert.equal(previewArgs("align", ["s1", [1, 2]]), '"s1", [1, 2]')
    assert.equal(previewArgs("reductio.script", ["sort -u in.txt\nwc -l", [], {}, {}]), '"sort -u in.txt"')
  })

  it("labels a script by the task that built it and its name", () => {
    assert.equal(callLabel("align", null), "task align")
    assert.equal(callLabel("align", "sample 1"), "task align (sample 1)")
    assert.equal(callLabel("reductio.script", null, "align"), "script in task align")
    assert.equal(callLabel("reductio.script", "sort", "align"), "script sort in task align")
    assert.equal(callLabel("reductio.script", null, null), "script")
  })
})
