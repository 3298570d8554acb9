import assert from "node:assert/strict"
import { existsSync } from "node:fs"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, it } from "node:test"
import { runCli } from "../../support/cli.js"
import { tempProject } from "../../support/project.js"

describe("the project's database", () => {
  it("is not created by `reductio log` in a folder where nothing ran: NOT_FOUND with what to do", async () => {
    const empty = await mkdtemp(join(tmpdir(), "reductio-empty-"))
    try {
      const result = await runCli(["log"], { cwd: empty })
      assert.equal(result.code, 4, result.stderr)
      assert.match(result.stderr, /no reductio database at .*reductio run/)
      assert.equal(existsSync(join(empty, ".reductio")), false)
    } finally {
      await rm(empty, { recursive: true, force: true })
    }
  })

  it("is the workflow's project's, found beside its package.json, not the working directory's", async () => {
    const project = await tempProject("reductio-owner-")
    try {
      await project.write("workflow.ts", 'import { task } from "reductio-workflow"\nexport const main = task("main", () => 1)\n')
      await project.write("data/input.txt", "x")
      const data = join(project.dir, "data")
      const first = await runCli(["run", "../workflow.ts", "main"], { cwd: data })
      assert.equal(first.code, 0, first.stderr)
      assert.equal(existsSync(join(data, ".reductio")), false)
      assert.ok(existsSync(join(project.dir, ".reductio", "reductio.db")))
      const again = await runCli(["run", "workflow.ts", "main"], { cwd: project.dir })
      assert.match(again.stderr, /0 done, 1 cached/)
    } finally {
      await project.remove()
    }
  })
})
