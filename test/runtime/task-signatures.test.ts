import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { isReductioError } from "reductio-workflow"
import { paramTypeOf, valueFromJson, valueFromText } from "../../runtime/cli/param-types.js"
import { readSignatures } from "../../runtime/task-signatures.js"

const source = `
import { task } from "reductio-workflow"
type Mode = "fast" | "slow"
interface Options { depth: number }
const pattern = /["'(]/g
const note = \`a \${"(" + ")"} b\`

/** Aligns reads.
 * @param sample the sample id
 */
export const align = task("align", async (sample: string, mode: Mode = "fast", options?: Options) => sample.replace(pattern, ""))
export const generic = task("generic", <T, U>(x: T, pairs: Map<string, [T, U]>): Array<Record<string, T>> => [])
export const classic = task("classic", function named({ a, b }: { a: number; b: string }, ...rest: number[]) { return a })
export const bare = task("bare", x => x)
export const spaced = task("main", (n: number) => n, { namespace: "lab", version: "2" })
obj.task("not-a-task", (y: number) => y)
`

describe("readSignatures", () => {
  const { tasks, aliases } = readSignatures(source)
  const byName = new Map(tasks.map((declared) => [declared.name, declared]))

  it("finds each task declaration with its parameters, annotations and defaults", () => {
    assert.deepEqual([...byName.keys()], ["align", "generic", "classic", "bare", "main"])
    const align = byName.get("align")
    assert.deepEqual(
      align?.parameters.map((p) => [p.name, p.type, p.defaultText, p.optional]),
      [
        ["sample", "string", undefined, false],
        ["mode", "Mode", '"fast"', true],
        ["options", "Options", undefined, true],
      ],
    )
    assert.equal(align?.doc, "Aligns reads.")
    assert.equal(align?.parameters[0]?.doc, "the sample id")
  })

  it("reads generic arrows, function expressions, destructured and rest parameters", () => {
    assert.deepEqual(
      byName.get("generic")?.parameters.map((p) => [p.name, p.type]),
      [
        ["x", "T"],
        ["pairs", "Map<string, [T, U]>"],
      ],
    )
    assert.deepEqual(
      byName.get("classic")?.parameters.map((p) => [p.name, p.type, p.rest]),
      [
        ["arg0", "{ a: number; b: string }", false],
        ["rest", "number[]", true],
      ],
    )
    assert.deepEqual(
      byName.get("bare")?.parameters.map((p) => p.name),
      ["x"],
    )
    assert.equal(byName.get("main")?.namespace, "lab")
  })

  it("collects type aliases and interfaces", () => {
    assert.equal(aliases.Mode, '"fast" | "slow"')
    assert.equal(aliases.Options, "{}")
  })
})

describe("parameter types", () => {
  const cwd = "/work"
  const context = { flag: "--x", cwd }
  const aliases = { Mode: '"fast" | "slow"', Loop: "Loop[]" }

  it("reads primitive, literal, array, object and File annotations", () => {
    assert.deepEqual(paramTypeOf("number", undefined, {}), { kind: "number" })
    assert.deepEqual(paramTypeOf("Mode", undefined, aliases), { kind: "choice", values: ["fast", "slow"] })
    assert.deepEqual(paramTypeOf("readonly string[]", undefined, {}), { kind: "array", element: { kind: "string" } })
    assert.deepEqual(paramTypeOf("Array<File>", undefined, {}), { kind: "array", element: { kind: "file" } })
    assert.deepEqual(paramTypeOf("{ a: number }", undefined, {}), { kind: "object" })
    assert.deepEqual(paramTypeOf("Record<string, number>", undefined, {}), { kind: "object" })
    assert.deepEqual(paramTypeOf("number | undefined", undefined, {}), { kind: "number" })
    assert.deepEqual(paramTypeOf("true | false", undefined, {}), { kind: "boolean" })
    assert.deepEqual(paramTypeOf(undefined, "10", {}), { kind: "number" })
    assert.deepEqual(paramTypeOf(undefined, "'x'", {}), { kind: "string" })
    assert.deepEqual(paramTypeOf("SomeClass", undefined, {}), { kind: "unknown" })
    // A recursive alias does not loop.
    assert.deepEqual(paramTypeOf("Loop", undefined, aliases), { kind: "array", element: { kind: "unknown" } })
  })

  it("parses text by type and refuses what does not fit with INVALID_ARGUMENT", () => {
    assert.equal(valueFromText("-2.5e3", { kind: "number" }, context), -2500)
    assert.equal(valueFromText("10", { kind: "string" }, context), "10")
    assert.deepEqual(valueFromText("[1,2]", { kind: "array", element: { kind: "number" } }, context), [1, 2])
    for (const [text, type] of [
      ["abc", { kind: "number" }],
      ["", { kind: "number" }],
      ["0x10", { kind: "number" }],
      ["yes", { kind: "boolean" }],
      ["1.5", { kind: "bigint" }],
      ['["a"]', { kind: "array", element: { kind: "number" } }],
      ["null", { kind: "object" }],
    ] as const) {
      assert.throws(
        () => valueFromText(text, type, context),
        (error: unknown) => isReductioError(error, "INVALID_ARGUMENT"),
        text,
      )
    }
  })

  it("converts JSON values, parsing strings given for other types as text", () => {
    assert.equal(valueFromJson("7", { kind: "number" }, context), 7)
    assert.equal(valueFromJson(7, { kind: "bigint" }, context), 7n)
    assert.throws(
      () => valueFromJson(7, { kind: "string" }, context),
      (error: unknown) => isReductioError(error, "INVALID_ARGUMENT"),
    )
  })
})
