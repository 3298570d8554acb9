import assert from "node:assert/strict"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import { repoRoot, runCli } from "../support/cli.js"

describe("the local examples", () => {
  let dir: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "reductio-examples-"))
  })
  after(() => rm(dir, { recursive: true, force: true }))

  const run = (...args: string[]) => runCli(["run", ...args, "--quiet", "--db", join(dir, "examples.db")], { cwd: repoRoot })

  it("hello greets", async () => {
    const result = await run("examples/hello.ts", "main", "--name", "Ada")
    assert.equal(result.code, 0, result.stderr)
    assert.equal(result.stdout, "Hello, Ada!\n")
  })

  it("fan-out sums squares", async () => {
    const result = await run("examples/fan-out.ts", "main", "--n", "100")
    assert.equal(result.code, 0, result.stderr)
    assert.equal(result.stdout.trim(), "328350")
  })

  it("recursive computes Fibonacci and counts down 10,000 levels", async () => {
    const fib = await run("examples/recursive.ts", "fib", "--n", "20")
    assert.equal(fib.stdout.trim(), "6765", fib.stderr)
    const countdown = await run("examples/recursive.ts", "countdown", "--n", "10000")
    assert.equal(countdown.stdout.trim(), "liftoff", countdown.stderr)
    const tree = await run("examples/recursive.ts", "treeSize", "--depth", "3", "--branching", "3")
    assert.equal(tree.stdout.trim(), "40", tree.stderr)
  })

  it("catch-error turns parse failures into a report", async () => {
    const result = await run("examples/catch-error.ts", "main")
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(JSON.parse(result.stdout), { total: 7, problems: ['cannot parse "oops"', 'cannot parse "c = x"'] })
  })

  it("higher-order folds with a task value, composes, zips and reads the context", async () => {
    const result = await run(
      "examples/higher-order.ts",
      "main",
      "--words",
      '["graph", "reduction", "work"]',
      "--context",
      "report.prefix=> ",
    )
    assert.equal(result.code, 0, result.stderr)
    assert.equal(result.stdout, "> TOTAL 36; SHORT: WORK; PAIRS: 120,136,116\n")
  })
})
