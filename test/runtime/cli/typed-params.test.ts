import assert from "node:assert/strict"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import { runCli } from "../../support/cli.js"
import { type TempProject, tempProject } from "../../support/project.js"

const workflow = `
import { Dir, File, task } from "reductio-workflow"

type Mode = "fast" | "slow"

/**
 * Counts the lines of a table.
 * @param data the table to count
 */
export const main = task("pipeline.main", async (
  data: File,
  /** how many lines to skip */
  skip: number,
  mode: Mode = "fast",
  verbose = false,
  tags: string[] = [],
  limits: { max: number } = { max: 3 },
) => {
  const lines = (await data.read()).split("\\n").filter((line) => line !== "")
  return { path: data.path, lines: lines.length - skip, mode, verbose, tags, limits }
})

export const listing = task("listing", (dir: Dir, when: Date, big: bigint) => ({ dir: dir.path, year: when.getUTCFullYear(), big: String(big) }))
export const text = task("text", (name: string, maybe?: number | string) => ({ name, maybe }))
export const untyped = task("untyped", (value) => ({ value }))
export const schema = task("schema", (count, ratio) => ({ count, ratio }), { params: { count: "number", ratio: { type: "number", doc: "a ratio" } } })
export const nested = task("nested", (...values: number[]) => values.reduce((a, b) => a + b, 0))
`

describe("reductio run parses parameters by their declared types", () => {
  let project: TempProject
  const run = (args: string[]) => runCli(["run", "workflow.ts", ...args, "--quiet"], { cwd: project.dir })

  before(async () => {
    project = await tempProject()
    await project.write("workflow.ts", workflow)
    await project.write("data.tsv", "a\nb\nc\n")
    await project.write("tags.json", '["x", "y"]\n')
    await project.write("args.json", JSON.stringify({ data: "data.tsv", skip: 1, tags: ["from-file"] }))
  })
  after(() => project.remove())

  it("takes a File from a path, numbers, string unions, booleans and JSON for arrays and objects", async () => {
    const result = await run([
      "main",
      "--data",
      "data.tsv",
      "--skip",
      "1",
      "--mode",
      "slow",
      "--verbose",
      "--tags",
      '["a"]',
      "--limits",
      '{"max":9}',
    ])
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(JSON.parse(result.stdout), {
      path: join(project.dir, "data.tsv"),
      lines: 2,
      mode: "slow",
      verbose: true,
      tags: ["a"],
      limits: { max: 9 },
    })
  })

  it("takes a boolean as true or false, and --no-name for false", async () => {
    const yes = await run(["main", "--data", "data.tsv", "--skip", "0", "--verbose", "true"])
    assert.equal(JSON.parse(yes.stdout).verbose, true, yes.stderr)
    const no = await run(["main", "--data", "data.tsv", "--skip", "0", "--no-verbose"])
    assert.equal(JSON.parse(no.stdout).verbose, false, no.stderr)
    const bad = await run(["main", "--data", "data.tsv", "--skip", "0", "--verbose=yes"])
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /INVALID_ARGUMENT/)
  })

  it("refuses a number that is not one, a value outside a union, and malformed JSON, naming the flag", async () => {
    for (const args of [
      ["--skip", "abc"],
      ["--skip", "1", "--mode", "medium"],
      ["--skip", "1", "--tags", "[a"],
      ["--skip", "1", "--tags", '{"a":1}'],
      ["--skip", "1", "--limits", "[1]"],
    ]) {
      const result = await run(["main", "--data", "data.tsv", ...args])
      assert.equal(result.code, 2, `${args.join(" ")}: ${result.stdout}`)
      assert.match(result.stderr, /INVALID_ARGUMENT/)
    }
    const result = await run(["main", "--data", "data.tsv", "--skip", "abc"])
    assert.match(result.stderr, /--skip expects number/)
  })

  it("keeps a string parameter as text even when it looks like JSON, and parses a union by its members", async () => {
    const result = await run(["text", "--name", "10", "--maybe", "7"])
    assert.deepEqual(JSON.parse(result.stdout), { name: "10", maybe: 7 }, result.stderr)
    const word = await run(["text", "--name", "true", "--maybe", "seven"])
    assert.deepEqual(JSON.parse(word.stdout), { name: "true", maybe: "seven" }, word.stderr)
  })

  it("takes a Dir, a Date and a bigint", async () => {
    const result = await run(["listing", "--dir", ".", "--when", "2024-05-01T00:00:00Z", "--big", "12345678901234567890"])
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(JSON.parse(result.stdout), { dir: project.dir, year: 2024, big: "12345678901234567890" })
    const bad = await run(["listing", "--dir", ".", "--when", "not a date", "--big", "1"])
    assert.equal(bad.code, 2)
  })

  it("parses untyped parameters as JSON when they are JSON, else as text", async () => {
    assert.deepEqual(JSON.parse((await run(["untyped", "--value", "[1,2]"])).stdout), { value: [1, 2] })
    assert.deepEqual(JSON.parse((await run(["untyped", "--value", "hello"])).stdout), { value: "hello" })
  })

  it("follows the params option where the source has no annotations", async () => {
    assert.deepEqual(JSON.parse((await run(["schema", "--count", "3", "--ratio", "0.5"])).stdout), { count: 3, ratio: 0.5 })
    const bad = await run(["schema", "--count", "three", "--ratio", "1"])
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /--count expects number/)
  })

  it("collects a rest parameter from positional values, each parsed by the element type", async () => {
    const result = await run(["nested", "1", "2", "3.5"])
    assert.equal(result.stdout, "6.5\n", result.stderr)
  })

  it("refuses a flag given twice instead of taking the last", async () => {
    const result = await run(["main", "--data", "data.tsv", "--skip", "1", "--skip", "2"])
    assert.equal(result.code, 2)
    assert.match(result.stderr, /INVALID_ARGUMENT/)
    assert.match(result.stderr, /--skip is given more than once/)
    const own = await runCli(["run", "--db", "a.db", "--db", "b.db", "workflow.ts", "text", "--name", "x"], { cwd: project.dir })
    assert.equal(own.code, 2)
    assert.match(own.stderr, /--db is given more than once/)
  })

  it("reads a value from a file with @path, and all parameters from --args-file (flags win)", async () => {
    const fromFile = await run(["main", "--data", "data.tsv", "--skip", "0", "--tags", "@tags.json"])
    assert.deepEqual(JSON.parse(fromFile.stdout).tags, ["x", "y"], fromFile.stderr)
    const escaped = await run(["text", "--name", "@@handle", "--maybe", "1"])
    assert.equal(JSON.parse(escaped.stdout).name, "@handle", escaped.stderr)
    const argsFile = await run(["main", "--args-file", "args.json", "--mode", "slow"])
    assert.equal(argsFile.code, 0, argsFile.stderr)
    assert.deepEqual(JSON.parse(argsFile.stdout), {
      path: join(project.dir, "data.tsv"),
      lines: 2,
      mode: "slow",
      verbose: false,
      tags: ["from-file"],
      limits: { max: 3 },
    })
  })

  it("takes a value larger than one command-line argument may be from a file", async () => {
    const rows = Array.from({ length: 20_000 }, (_, i) => `row-${i}-${"x".repeat(10)}`)
    await project.write("big.json", JSON.stringify(rows))
    assert.ok(JSON.stringify(rows).length > 128 * 1024)
    const result = await run(["main", "--data", "data.tsv", "--skip", "0", "--tags", "@big.json", "--json"])
    assert.equal(result.code, 0, result.stderr)
    assert.equal((JSON.parse(result.stdout) as { result: { tags: string[] } }).result.tags.length, 20_000)
  })

  it("refuses a missing value file, a bad args file and a parameter the task lacks in it", async () => {
    await project.write("not-object.json", "[1]")
    await project.write("unknown.json", '{"nope": 1}')
    for (const args of [
      ["main", "--data", "data.tsv", "--skip", "0", "--tags", "@missing.json"],
      ["main", "--args-file", "missing.json"],
      ["main", "--args-file", "not-object.json"],
      ["main", "--args-file", "unknown.json"],
    ]) {
      const result = await run(args)
      assert.equal(result.code, 2, args.join(" "))
      assert.match(result.stderr, /INVALID_ARGUMENT/)
    }
  })

  it("shows each parameter's type, default and doc with --help under the exported name", async () => {
    const result = await runCli(["run", "workflow.ts", "main", "--help"], { cwd: project.dir })
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, /pipeline\.main --data <data> --skip <skip> \[--mode <mode>\]/)
    assert.match(result.stdout, /Counts the lines of a table\./)
    assert.match(result.stdout, /--data\s+File, required {2}the table to count/)
    assert.match(result.stdout, /--skip\s+number, required {2}how many lines to skip/)
    assert.match(result.stdout, /--mode\s+Mode, default "fast"/)
    assert.match(result.stdout, /--verbose\s+boolean, default false/)
    const schema = await runCli(["run", "workflow.ts", "schema", "--help"], { cwd: project.dir })
    assert.match(schema.stdout, /--ratio\s+number, required {2}a ratio/)
  })
})
