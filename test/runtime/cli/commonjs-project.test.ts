import assert from "node:assert/strict"
import { writeFile } from "node:fs/promises"
import { join } from "node:path"
import { describe, it } from "node:test"
import { runBuiltCli } from "../../support/cli.js"
import { tempProject } from "../../support/project.js"

describe("a workflow in a CommonJS project", () => {
  it('says exactly what to change when package.json says "type": "commonjs" (as npm init -y writes)', async () => {
    const project = await tempProject("reductio-commonjs-")
    try {
      await writeFile(join(project.dir, "package.json"), `${JSON.stringify({ name: "lab", version: "1.0.0", type: "commonjs" })}\n`)
      await project.write("workflow.ts", 'import { task } from "reductio-workflow"\nexport const main = task("main", () => 1)\n')
      const result = await runBuiltCli(["run", "workflow.ts", "main"], { cwd: project.dir })
      assert.equal(result.code, 2, result.stderr)
      assert.match(result.stderr, /WORKFLOW_LOAD_FAILED/)
      assert.ok(result.stderr.includes(join(project.dir, "package.json")), result.stderr)
      assert.match(result.stderr, /npm pkg set type=module/)
      assert.match(result.stderr, /workflow\.mts/)
    } finally {
      await project.remove()
    }
  })
})
