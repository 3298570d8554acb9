import assert from "node:assert/strict"
import { existsSync } from "node:fs"
import { readFile } from "node:fs/promises"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import { runCli } from "../../support/cli.js"
import { type TempProject, tempProject } from "../../support/project.js"

const workflow = `
import { writeFileSync } from "node:fs"
import { currentSignal, script, task } from "reductio-workflow"

// Ignores Ctrl-C and finishes normally; notes whether its signal fired meanwhile.
export const stubborn = task("stubborn", async (ms: number) => {
  const signal = currentSignal()
  writeFileSync("started-stubborn", "")
  await new Promise((resolve) => setTimeout(resolve, ms))
  writeFileSync("stubborn-saw-abort", String(signal.aborted))
  return ms
})
export const shell = task("shell", () => script("touch '" + process.cwd() + "/started-shell'; sleep 30"))

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

  it("ends CANCELLED with exit code 130 when a running task finishes after Ctrl-C; status, code and summary agree", async () => {
    const interrupted = await runCli(["run", "workflow.ts", "stubborn", "--ms", "600"], {
      cwd: project.dir,
      interruptWhen: () => existsSync(join(project.dir, "started-stubborn")),
    })
    assert.equal(interrupted.code, 130, interrupted.stderr)
    assert.equal(await readFile(join(project.dir, "stubborn-saw-abort"), "utf8"), "true")
    const summary = /execution (\S+) (\w+) in /.exec(interrupted.stderr)
    assert.equal(summary?.[2], "CANCELLED", interrupted.stderr)
    assert.match(interrupted.stderr, /error \[CANCELLED\]/)
    const shown = await runCli(["log", summary?.[1] ?? "", "--json"], { cwd: project.dir })
    const { execution, jobs } = JSON.parse(shown.stdout) as { execution: { status: string }; jobs: { status: string }[] }
    assert.equal(execution.status, "CANCELLED")
    assert.deepEqual(
      jobs.map((job) => job.status),
      ["DONE"],
    )
  })

  it("ends a script() running at Ctrl-C as CANCELLED, not TASK_FAILED", async () => {
    const startedAt = Date.now()
    const interrupted = await runCli(["run", "workflow.ts", "shell", "--json"], {
      cwd: project.dir,
      interruptWhen: () => existsSync(join(project.dir, "started-shell")),
    })
    assert.equal(interrupted.code, 130, interrupted.stderr)
    assert.ok(Date.now() - startedAt < 20_000, "the script was not left to run its 30 s")
    const output = JSON.parse(interrupted.stdout) as { executionId: string; status: string; error: { code: string } }
    assert.deepEqual([output.status, output.error.code], ["CANCELLED", "CANCELLED"])
    const shown = await runCli(["log", output.executionId, "--json"], { cwd: project.dir })
    const { execution, jobs } = JSON.parse(shown.stdout) as { execution: { status: string }; jobs: { taskName: string; status: string }[] }
    assert.equal(execution.status, "CANCELLED")
    assert.deepEqual(
      jobs.map((job) => [job.taskName, job.status]),
      [
        ["shell", "CANCELLED"],
        ["reductio.script", "CANCELLED"],
      ],
    )
  })
})
