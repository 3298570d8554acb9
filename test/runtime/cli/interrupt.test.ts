import assert from "node:assert/strict"
import { existsSync } from "node:fs"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import { runCli } from "../../support/cli.js"
import { type TempProject, tempProject } from "../../support/project.js"

const workflow = `
import { writeFileSync } from "node:fs"
import { task } from "reductio"

export const step = task("step", async (i: number) => {
  if (i === 3) writeFileSync("started-3", "")
  await new Promise((resolve) => setTimeout(resolve, 150))
  return i * i
}, { limits: ["one"] })
export const main = task("main", (n: number) => Array.from({ length: n }, (_, i) => step(i)))
`

describe("Ctrl-C during a run", () => {
  let project: TempProject
  before(async () => {
    project = await tempProject()
    await project.write("workflow.ts", workflow)
    await project.write("reductio.config.ts", "export default { limits: { one: 1 } }\n")
  })
  after(() => project.remove())

  it("cancels, records what finished, and a rerun resumes from the cache", async () => {
    const interrupted = await runCli(["run", "workflow.ts", "main", "--n", "12"], {
      cwd: project.dir,
      interruptWhen: () => existsSync(join(project.dir, "started-3")),
    })
    assert.equal(interrupted.code, 130, interrupted.stderr)
    assert.match(interrupted.stderr, /CANCELLED/)

    const list = await runCli(["log", "--json"], { cwd: project.dir })
    const [execution] = JSON.parse(list.stdout) as { id: string; status: string }[]
    assert.equal(execution?.status, "CANCELLED")

    const rerun = await runCli(["run", "workflow.ts", "main", "--n", "12", "--json"], { cwd: project.dir })
    assert.equal(rerun.code, 0, rerun.stderr)
    assert.deepEqual(
      (JSON.parse(rerun.stdout) as { result: number[] }).result,
      Array.from({ length: 12 }, (_, i) => i * i),
    )
    const tree = await runCli(["log", (JSON.parse(rerun.stdout) as { executionId: string }).executionId, "--json"], { cwd: project.dir })
    const { jobs } = JSON.parse(tree.stdout) as { jobs: { taskName: string; status: string }[] }
    const cached = jobs.filter((job) => job.taskName === "step" && job.status === "CACHED").length
    assert.ok(cached >= 3, `expected the steps finished before Ctrl-C to be cached, got ${cached}`)
  })
})
