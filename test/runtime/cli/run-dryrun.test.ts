import assert from "node:assert/strict"
import { rm, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import { runCli } from "../../support/cli.js"
import { type TempProject, tempProject } from "../../support/project.js"

const workflow = (leafBody: string) => `
import { File, task } from "reductio-workflow"

export const leaf = task("leaf", (x: number) => ${leafBody})
export const total = task("total", (xs: number[]) => xs.reduce((a, b) => a + b, 0))
export const main = task("main", (n: number) => total(Array.from({ length: n }, (_, i) => leaf(i))))
export const save = task("save", async (path: string) => {
  const file = new File(path)
  await file.write("saved")
  return file
})
export const files = task("files", () => save("out.txt"))
`

describe("reductio run --dryrun", () => {
  let project: TempProject
  let file: string
  const cli = (args: string[]) => runCli(args, { cwd: project.dir })
  const executions = async () => (JSON.parse((await cli(["log", "--json"])).stdout) as unknown[]).length

  before(async () => {
    project = await tempProject()
    file = await project.write("workflow.ts", workflow("x * 10"))
  })
  after(() => project.remove())

  it("on a new database plans the root call as one that would run: no entry, and records nothing", async () => {
    const result = await cli(["run", "workflow.ts", "main", "--n", "3", "--dryrun"])
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, /^dry run \(no task body ran, nothing was recorded\): 1 call would run, 0 wait on them, 0 cached\n/)
    assert.match(result.stdout, /\n +#1 {2}run {4}task main \(3\) {2}[0-9a-f]{12} {2}no entry: nothing is recorded for task main\n/)
    assert.equal(await executions(), 0)
  })

  it("after a run says every call is cached and what the result would be", async () => {
    assert.equal((await cli(["run", "workflow.ts", "main", "--n", "3"])).code, 0)
    const result = await cli(["run", "workflow.ts", "main", "--n", "3", "--dryrun"])
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, /0 calls would run, 0 wait on them, 5 cached\nevery call is cached; the result would be: 30\n/)
    assert.equal(await executions(), 1)
  })

  it("names new arguments of a recorded task version", async () => {
    const result = await cli(["run", "workflow.ts", "main", "--n", "4", "--dryrun"])
    assert.match(result.stdout, /#1 {2}run {4}task main \(4\) .* new arguments: /)
  })

  it("names an edited task, and lists the calls downstream as waiting on the ones that would run", async () => {
    await writeFile(file, workflow("x * 100"))
    const result = await cli(["run", "workflow.ts", "main", "--n", "3", "--dryrun"])
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, /3 calls would run, 1 waits on them, 1 cached\n/)
    for (const [id, x] of [
      [1, 0],
      [2, 1],
      [3, 2],
    ])
      assert.match(
        result.stdout,
        new RegExp(
          `#${id} {2}run {4}task leaf \\(${x}\\) .* edited task: task hash [0-9a-f]{12} differs from [0-9a-f]{12} recorded for leaf\\n`,
        ),
      )
    assert.match(result.stdout, /#4 {2}waits {2}task total \(args not known yet\) {2}waits on #1, #2, #3\n/)
    const json = await cli(["run", "workflow.ts", "main", "--n", "3", "--dryrun", "--json"])
    const plan = JSON.parse(json.stdout) as { complete: boolean; calls: { status: string; reason?: string; args?: string }[] }
    assert.equal(plan.complete, false)
    assert.deepEqual(
      plan.calls.map((call) => [call.status, call.reason ?? null, call.args ?? null]),
      [
        ["run", "edited-task", "0"],
        ["run", "edited-task", "1"],
        ["run", "edited-task", "2"],
        ["waits", null, null],
      ],
    )
  })

  it("names a File of a cached result that changed, and --no-cache as the reason everything would run", async () => {
    assert.equal((await cli(["run", "workflow.ts", "files"])).code, 0)
    await rm(join(project.dir, "out.txt"))
    const result = await cli(["run", "workflow.ts", "files", "--dryrun"])
    assert.match(result.stdout, /#1 {2}run {4}task save \("out\.txt"\) .* invalid File: changed since it was recorded: \S*out\.txt\n/)
    const off = await cli(["run", "workflow.ts", "files", "--dryrun", "--no-cache"])
    assert.match(off.stdout, /#1 {2}run {4}task files \(\) .* cache off: --no-cache\n/)
  })
})
