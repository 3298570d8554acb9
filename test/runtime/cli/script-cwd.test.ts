import assert from "node:assert/strict"
import { mkdir } from "node:fs/promises"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import { runCli } from "../../support/cli.js"
import { type TempProject, tempProject } from "../../support/project.js"

describe("script({ cwd }) under reductio run", () => {
  let project: TempProject
  before(async () => {
    project = await tempProject()
    await project.write(
      "pipelines/workflow.ts",
      `import { script, task } from "reductio-workflow"\nexport const main = task("main", () => script("pwd; cat input.txt", { cwd: "data" }))\n`,
    )
    await mkdir(join(project.dir, "pipelines", "data"))
    await project.write("pipelines/data/input.txt", "from the data directory\n")
  })
  after(() => project.remove())

  it("resolves a relative cwd against the workflow file's directory, not the working directory", async () => {
    const result = await runCli(["run", "pipelines/workflow.ts", "main", "--quiet"], { cwd: project.dir })
    assert.equal(result.code, 0, result.stderr)
    assert.equal(result.stdout, `${join(project.dir, "pipelines", "data")}\nfrom the data directory\n\n`)
  })
})
