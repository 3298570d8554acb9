import assert from "node:assert/strict"
import { writeFile } from "node:fs/promises"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import { runCli, runNode } from "../../support/cli.js"
import { type TempProject, tempProject } from "../../support/project.js"

const workflow = (leafBody: string) => `
import { task, run } from "reductio-workflow"

export const leaf = task("leaf", (x: number) => ${leafBody})
export const other = task("other", (x: number) => x + 1)
export const main = task("main", (n: number, label = "sum") => {
  const parts = Array.from({ length: n }, (_, i) => [leaf(i), other(i)])
  return total(label, parts)
})
export const total = task("total", (label: string, parts: number[][]) => ({ label, value: parts.flat().reduce((a, b) => a + b, 0) }))
export const broken = task("broken", (why: string) => {
  throw new Error("broken on purpose: " + why)
})

await run(main, 2)
`

async function statuses(project: TempProject): Promise<Map<string, string[]>> {
  const list = await runCli(["log", "--json", "--limit", "1"], { cwd: project.dir })
  const [latest] = JSON.parse(list.stdout) as { id: string }[]
  const tree = await runCli(["log", latest?.id ?? "", "--json"], { cwd: project.dir })
  const { jobs } = JSON.parse(tree.stdout) as { jobs: { taskName: string; status: string }[] }
  const byTask = new Map<string, string[]>()
  for (const job of jobs) byTask.set(job.taskName, [...(byTask.get(job.taskName) ?? []), job.status])
  return byTask
}

describe("reductio run", () => {
  let project: TempProject
  let file: string

  before(async () => {
    project = await tempProject()
    file = await project.write("workflow.ts", workflow("x * 10"))
  })
  after(() => project.remove())

  it("runs a task with arguments from flags and prints the result", async () => {
    const result = await runCli(["run", "workflow.ts", "main", "--n", "3", "--label", "total"], { cwd: project.dir })
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(JSON.parse(result.stdout), { label: "total", value: 36 })
    assert.match(result.stderr, /execution \S+ DONE/)
  })

  it("reuses the whole recorded call tree on an unchanged rerun: one cached job, no task body runs", async () => {
    const result = await runCli(["run", "workflow.ts", "main", "--n", "3", "--label", "total"], { cwd: project.dir })
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(JSON.parse(result.stdout), { label: "total", value: 36 })
    // 3 leaf, 3 other and 1 total call below main count as cached.
    assert.match(result.stderr, /DONE in [\d.]+s: 8 jobs, 0 done, 8 cached \(7 reused with a cached parent\)/)
    const byTask = await statuses(project)
    assert.deepEqual([...byTask], [["main", ["CACHED"]]])
    const list = await runCli(["log", "--json", "--limit", "1"], { cwd: project.dir })
    const [latest] = JSON.parse(list.stdout) as { id: string }[]
    const tree = await runCli(["log", latest?.id ?? ""], { cwd: project.dir })
    assert.match(tree.stdout, /CACHED\s+task main \(3, "total"\) .*\(reused 7 recorded calls below\)/)
  })

  it("reruns only the edited task's calls and what their results feed", async () => {
    await writeFile(file, workflow("x * 100"))
    const result = await runCli(["run", "workflow.ts", "main", "--n", "3", "--label", "total"], { cwd: project.dir })
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(JSON.parse(result.stdout), { label: "total", value: 306 })
    const byTask = await statuses(project)
    assert.deepEqual(byTask.get("leaf"), ["DONE", "DONE", "DONE"])
    assert.deepEqual(byTask.get("other"), ["CACHED", "CACHED", "CACHED"])
    assert.deepEqual(byTask.get("main"), ["CACHED"])
    assert.deepEqual(byTask.get("total"), ["DONE"])
  })

  it("runs everything again with --no-cache", async () => {
    const result = await runCli(["run", "workflow.ts", "main", "--n", "3", "--label", "total", "--no-cache"], { cwd: project.dir })
    assert.equal(result.code, 0, result.stderr)
    const byTask = await statuses(project)
    assert.ok([...byTask.values()].flat().every((s) => s === "DONE"))
  })

  it("runs the task the script's own run() names when no task is given", async () => {
    const result = await runCli(["run", "workflow.ts", "--quiet"], { cwd: project.dir })
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(JSON.parse(result.stdout), { label: "sum", value: 103 })
    assert.equal(result.stderr, "")
  })

  it("runs as a plain script through its top-level run()", async () => {
    const result = await runNode(["workflow.ts"], { cwd: project.dir })
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(JSON.parse(result.stdout), { label: "sum", value: 103 })
  })

  it("lists the file's tasks and their parameters with --help", async () => {
    const result = await runCli(["run", "workflow.ts", "--help"], { cwd: project.dir })
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, /main --n <n> \[--label <label>\]/)
    assert.match(result.stdout, /leaf --x <x>/)
  })

  it("prints a failed task's name, code and original stack and exits 1", async () => {
    const result = await runCli(["run", "workflow.ts", "broken", "--why", "testing"], { cwd: project.dir })
    assert.equal(result.code, 1)
    assert.match(result.stderr, /TASK_FAILED/)
    assert.match(result.stderr, /task broken \(args "testing"\) failed: Error: broken on purpose: testing/)
    assert.match(result.stderr, /workflow\.ts/)
  })

  it("lists the executions and one execution's job tree", async () => {
    const list = await runCli(["log"], { cwd: project.dir })
    assert.equal(list.code, 0, list.stderr)
    const ids = list.stdout
      .trim()
      .split("\n")
      .map((line) => line.split(" ")[0] ?? "")
    assert.ok(ids.length >= 5)
    const tree = await runCli(["log", ids[ids.length - 1]?.slice(0, 17) ?? ""], { cwd: project.dir })
    assert.equal(tree.code, 0, tree.stderr)
    assert.match(tree.stdout, /DONE\s+task main/)
    assert.match(tree.stdout, /DONE\s+task leaf \(\d\)/)
  })

  it("finds a task by the name the file exports it under", async () => {
    await project.write(
      "named.ts",
      `import { task } from "reductio-workflow"\nexport const hello = task("greetings.hello", (name: string) => "hi " + name)\n`,
    )
    const result = await runCli(["run", "named.ts", "hello", "--name", "Bo", "--quiet"], { cwd: project.dir })
    assert.equal(result.code, 0, result.stderr)
    assert.equal(result.stdout, "hi Bo\n")
  })

  it("runs on the process executor without configuring it", async () => {
    const result = await runCli(["run", "workflow.ts", "main", "--n", "2", "--executor", "process", "--json"], { cwd: project.dir })
    assert.equal(result.code, 0, result.stderr)
    assert.equal((JSON.parse(result.stdout) as { status: string }).status, "DONE")
  })

  describe("bad input", () => {
    it("shows the run help when no workflow is named", async () => {
      const help = await runCli(["run", "--help"], { cwd: project.dir })
      assert.equal(help.code, 0, help.stderr)
      assert.match(help.stdout, /Usage: reductio run/)
      const missing = await runCli(["run"], { cwd: project.dir })
      assert.equal(missing.code, 2)
      assert.match(missing.stderr, /name the workflow file/)
    })

    it("refuses a missing required parameter", async () => {
      const result = await runCli(["run", "workflow.ts", "broken"], { cwd: project.dir })
      assert.equal(result.code, 2)
      assert.match(result.stderr, /INVALID_ARGUMENT/)
      assert.match(result.stderr, /needs --why/)
    })

    it("names a missing workflow file", async () => {
      const result = await runCli(["run", "missing.ts", "main"], { cwd: project.dir })
      assert.equal(result.code, 2)
      assert.match(result.stderr, /WORKFLOW_NOT_FOUND/)
    })

    it("reports a workflow that fails to compile", async () => {
      await project.write("bad.ts", "import { task } from 'reductio-workflow'\nexport const x = task('x', (a: number) => a +)\n")
      const result = await runCli(["run", "bad.ts", "x"], { cwd: project.dir })
      assert.equal(result.code, 2)
      assert.match(result.stderr, /WORKFLOW_LOAD_FAILED/)
      assert.match(result.stderr, /bad\.ts/)
    })

    it("lists the known tasks for an unknown one", async () => {
      const result = await runCli(["run", "workflow.ts", "mian"], { cwd: project.dir })
      assert.equal(result.code, 2)
      assert.match(result.stderr, /TASK_NOT_FOUND/)
      assert.match(result.stderr, /known tasks: .*main/)
    })

    it("rejects an unknown task parameter", async () => {
      const result = await runCli(["run", "workflow.ts", "main", "--count", "3"], { cwd: project.dir })
      assert.equal(result.code, 2)
      assert.match(result.stderr, /INVALID_ARGUMENT/)
      assert.match(result.stderr, /--n --label/)
    })

    it("refuses a database that is not a database", async () => {
      await project.write("garbage.db", "this is not sqlite, just text that is long enough to look like a header".repeat(20))
      const result = await runCli(["run", "workflow.ts", "main", "--n", "1", "--db", "garbage.db"], { cwd: project.dir })
      assert.equal(result.code, 3)
      assert.match(result.stderr, /DB_UNREADABLE/)
    })

    it("names the bad key of an invalid configuration", async () => {
      const sub = join("configured")
      await project.write(join(sub, "reductio.config.ts"), `export default { limits: { db: 0 } }\n`)
      await project.write(join(sub, "wf.ts"), workflow("x"))
      const result = await runCli(["run", "wf.ts", "main", "--n", "1"], { cwd: join(project.dir, sub) })
      assert.equal(result.code, 2)
      assert.match(result.stderr, /CONFIG_INVALID/)
      assert.match(result.stderr, /config\.limits\.db/)
    })
  })
})

describe("reductio run: a result prints the same fresh and cached", () => {
  let project: TempProject

  before(async () => {
    project = await tempProject()
    await project.write(
      "ordered.ts",
      `import { task } from "reductio-workflow"
export const ordered = task("ordered", () => ({ zeta: 1, alpha: { y: 2, b: new Map([["q", 1], ["c", 2]]) }, mid: [3] }))
export const keysOf = task("keysOf", (value: Record<string, unknown>) => Object.keys(value).join(","))
export const orderedKeys = task("orderedKeys", () => keysOf(ordered()))
export const deep = task("deep", (depth: number) => {
  let value: unknown = "bottom"
  for (let i = 0; i < depth; i++) value = [value]
  return value
})
`,
    )
  })
  after(() => project.remove())

  it("keeps the result's key order in text and JSON, computed or read back from the cache", async () => {
    const printed: string[] = []
    for (let run = 0; run < 2; run++) {
      const text = await runCli(["run", "ordered.ts", "ordered"], { cwd: project.dir })
      assert.equal(text.code, 0, text.stderr)
      assert.match(text.stderr, run === 0 ? /1 done/ : /1 cached/)
      printed.push(text.stdout)
      const json = await runCli(["run", "ordered.ts", "ordered", "--json"], { cwd: project.dir })
      assert.equal(json.code, 0, json.stderr)
      const { result } = JSON.parse(json.stdout) as { result: { alpha: { b: object } } }
      assert.deepEqual(Object.keys(result), ["zeta", "alpha", "mid"])
      assert.deepEqual(Object.keys(result.alpha.b), ["q", "c"])
    }
    assert.match(printed[0] ?? "", /zeta.*alpha.*y.*b.*q.*c.*mid/s)
    assert.equal(printed[1], printed[0])
  })

  it("hands a task on another process the value in its key order", async () => {
    for (const flags of [["--executor", "process"], ["--executor", "process", "--no-cache"], []]) {
      const result = await runCli(["run", "ordered.ts", "orderedKeys", "--quiet", ...flags], { cwd: project.dir })
      assert.equal(result.code, 0, result.stderr)
      assert.equal(result.stdout, "zeta,alpha,mid\n")
    }
  })

  it("prints a result nested 100,000 deep, also as JSON", async () => {
    const json = await runCli(["run", "ordered.ts", "deep", "--depth", "100000", "--json"], { cwd: project.dir })
    assert.equal(json.code, 0, json.stderr)
    let value = (JSON.parse(json.stdout) as { result: unknown }).result
    let depth = 0
    for (; Array.isArray(value); value = value[0]) depth++
    assert.deepEqual([depth, value], [100_000, "bottom"])
    const text = await runCli(["run", "ordered.ts", "deep", "--depth", "100000", "--quiet"], { cwd: project.dir })
    assert.equal(text.code, 0, text.stderr)
    assert.match(text.stdout, /^\[/)
  })
})
