import assert from "node:assert/strict"
import { after, before, describe, it } from "node:test"
import { isReductioError } from "reductio-workflow"
import { HEAP_GROWING_PERCENT, heapGrowingPercent } from "../../../runtime/cli/heap-growth.js"
import { runCli } from "../../support/cli.js"
import { type TempProject, tempProject } from "../../support/project.js"

describe("the heap's growth between full collections", () => {
  it("is half of what was live unless the environment or the process's own flags say otherwise", () => {
    assert.equal(heapGrowingPercent({}, []), HEAP_GROWING_PERCENT)
    assert.equal(heapGrowingPercent({ REDUCTIO_HEAP_GROWING_PERCENT: "120" }, []), 120)
    assert.equal(heapGrowingPercent({ REDUCTIO_HEAP_GROWING_PERCENT: "0" }, []), undefined, "0 keeps V8's own")
    assert.equal(heapGrowingPercent({}, ["--heap-growing-percent=300"]), undefined)
    assert.equal(heapGrowingPercent({ NODE_OPTIONS: "--max-old-space-size=512 --heap-growing-percent=20" }, []), undefined)
  })

  it("refuses a value that is not a whole number from 0 to 1000 with CONFIG_INVALID", () => {
    for (const text of ["-5", "1.5", "50%", "1001", "lots", "99999"]) {
      assert.throws(
        () => heapGrowingPercent({ REDUCTIO_HEAP_GROWING_PERCENT: text }, []),
        (error: unknown) => isReductioError(error, "CONFIG_INVALID") && /REDUCTIO_HEAP_GROWING_PERCENT/.test(error.message),
        text,
      )
    }
  })

  describe("reductio run", () => {
    let project: TempProject
    before(async () => {
      project = await tempProject()
      await project.write("workflow.ts", 'import { task } from "reductio-workflow"\nexport const main = task("main", () => 42)\n')
    })
    after(() => project.remove())

    it("runs with its own setting, and names a bad REDUCTIO_HEAP_GROWING_PERCENT with the fix", async () => {
      const ok = await runCli(["run", "workflow.ts", "--quiet"], { cwd: project.dir })
      assert.equal(ok.code, 0, ok.stderr)
      assert.match(ok.stdout, /42/)
      const bad = await runCli(["run", "workflow.ts", "--quiet"], {
        cwd: project.dir,
        env: { ...process.env, REDUCTIO_HEAP_GROWING_PERCENT: "half" },
      })
      assert.equal(bad.code, 2)
      assert.match(bad.stderr, /CONFIG_INVALID[\s\S]*REDUCTIO_HEAP_GROWING_PERCENT is "half": set a whole number from 0 to 1000/)
    })
  })
})
