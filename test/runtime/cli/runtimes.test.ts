import assert from "node:assert/strict"
import { existsSync } from "node:fs"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import { runBuiltCli } from "../../support/cli.js"
import { type TempProject, tempProject } from "../../support/project.js"
import { OTHER_RUNTIMES, runCliUnder, skipUnless } from "../../support/runtimes.js"

const workflow = `
import { task } from "reductio-workflow"
export const inc = task("inc", (x: number) => x + 1)
export const fanout = task("fanout", (n: number) => Array.from({ length: n }, (_, i) => inc(i)))
export const boom = task("boom", (why: string) => { throw new Error(why) })
`

interface ExecutionJson {
  readonly id: string
  readonly status: string
}

for (const runtime of OTHER_RUNTIMES) {
  describe(`the reductio command under ${runtime}`, { skip: skipUnless(runtime) }, () => {
    let project: TempProject
    before(async () => {
      project = await tempProject(`reductio-${runtime}-`)
      await project.write("workflow.ts", workflow)
    })
    after(() => project.remove())
    const reductio = (...args: string[]) => runCliUnder(runtime, args, { cwd: project.dir })

    it("runs a workflow into the project's SQLite database, then replays it from the cache", async () => {
      const first = await reductio("run", "workflow.ts", "fanout", "--n", "5", "--json")
      assert.equal(first.code, 0, first.stderr)
      assert.deepEqual(JSON.parse(first.stdout).result, [1, 2, 3, 4, 5])
      assert.ok(existsSync(join(project.dir, ".reductio", "reductio.db")))
      const again = await reductio("run", "workflow.ts", "fanout", "--n", "5")
      assert.equal(again.code, 0, again.stderr)
      assert.match(again.stderr, /6 jobs, 0 done, 6 cached|1 jobs?, 0 done, 1 cached/)
    })

    it("lists the executions and shows the latest one's jobs", async () => {
      const listed = await reductio("log", "--json")
      assert.equal(listed.code, 0, listed.stderr)
      const executions = JSON.parse(listed.stdout) as ExecutionJson[]
      assert.equal(executions.length, 2)
      assert.ok(executions.every((execution) => execution.status === "DONE"))
      const latest = await reductio("log", "-")
      assert.equal(latest.code, 0, latest.stderr)
      assert.match(latest.stdout, /fanout/)
    })

    it("exits 1 with the task's error when a task throws, and records the failure", async () => {
      const failed = await reductio("run", "workflow.ts", "boom", "--why", "no luck")
      assert.equal(failed.code, 1)
      assert.match(failed.stderr, /no luck/)
      const listed = JSON.parse((await reductio("log", "--json")).stdout) as ExecutionJson[]
      assert.equal(listed[0]?.status, "FAILED")
    })

    it(
      runtime === "deno"
        ? "loads TypeScript through reductio's hooks in-thread (module.registerHooks)"
        : "loads TypeScript with Bun's own compiler, registering no hooks",
      async () => {
        const run = await runCliUnder(runtime, ["run", "workflow.ts", "fanout", "--n", "1", "--db", "memory"], {
          cwd: project.dir,
          env: { REDUCTIO_DEBUG: "typescript" },
        })
        assert.equal(run.code, 0, run.stderr)
        assert.match(run.stderr, runtime === "deno" ? /TypeScript loader: in-thread/ : /TypeScript loader: native/)
      },
    )

    it("shares the cache with Node: a run under Node replays what ran here", async () => {
      const underNode = await runBuiltCli(["run", "workflow.ts", "fanout", "--n", "5"], { cwd: project.dir })
      assert.equal(underNode.code, 0, underNode.stderr)
      assert.match(underNode.stderr, / 0 done, /)
    })
  })
}
