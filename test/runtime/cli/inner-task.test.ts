import assert from "node:assert/strict"
import { after, before, describe, it } from "node:test"
import { runCli } from "../../support/cli.js"
import { type TempProject, tempProject } from "../../support/project.js"

const workflow = `
import { task } from "reductio-workflow"

export const outer = task("outer", (n: number) => {
  const inner = task("inner", (x: number) => x * 3)
  return inner(n)
})
export const remoteOuter = task("remoteOuter", (n: number) => {
  const remoteInner = task("remoteInner", (x: number) => x * 5)
  return remoteInner(n)
}, { executor: "process" })
`

describe("a task declared inside another task's body", () => {
  let project: TempProject
  before(async () => {
    project = await tempProject()
    await project.write("workflow.ts", workflow)
  })
  after(() => project.remove())

  it("is found on a cached rerun: the body that declares it runs again", async () => {
    const first = await runCli(["run", "workflow.ts", "outer", "--n", "2", "--quiet"], { cwd: project.dir })
    assert.equal(first.code, 0, first.stderr)
    assert.equal(first.stdout, "6\n")
    const second = await runCli(["run", "workflow.ts", "outer", "--n", "2", "--json"], { cwd: project.dir })
    assert.equal(second.code, 0, second.stderr)
    assert.equal((JSON.parse(second.stdout) as { result: number }).result, 6)
  })

  it("is refused with TASK_NOT_FOUND naming the fix when the body ran in another process", async () => {
    const result = await runCli(["run", "workflow.ts", "remoteOuter", "--n", "2", "--quiet"], { cwd: project.dir })
    assert.equal(result.code, 2, result.stdout)
    assert.match(result.stderr, /TASK_NOT_FOUND/)
    assert.match(result.stderr, /declare tasks at a module's top level/)
  })
})
