import assert from "node:assert/strict"
import { after, before, describe, it } from "node:test"
import { runCli } from "../../support/cli.js"
import { type TempProject, tempProject } from "../../support/project.js"

const workflow = `
import { getContext, task } from "reductio-workflow"

export const leaf = task("leaf", (x: number) => ({ x, threads: getContext("tool.threads", 1), mode: getContext("tool.mode", "plain") }))
export const pass = task("pass", (x: number) => leaf(x))
export const main = task("main", (n: number) => Array.from({ length: n }, (_, i) => pass(i)))
export const flaky = task("flaky", (marker: string) => {
  const g = globalThis as { attempts?: number }
  g.attempts = (g.attempts ?? 0) + 1
  if (g.attempts < 3) throw new Error("flaky " + g.attempts)
  return g.attempts
})
`

const config = `
export default {
  context: { tool: { threads: 2 } },
  tasks: { leaf: { retries: 0 } },
  profiles: {
    big: { context: { tool: { threads: 32 } } },
    fast: { context: { tool: { mode: "fast" } }, tasks: { leaf: { cache: false } } },
    broken: { defaultExecutor: "nowhere" },
  },
}
`

interface Statuses {
  jobs: { taskName: string; status: string }[]
}

describe("reductio run: context, profiles and per-run task options", () => {
  let project: TempProject
  const run = (args: string[]) => runCli(["run", "workflow.ts", ...args, "--json"], { cwd: project.dir })
  const result = (stdout: string) => (JSON.parse(stdout) as { result: unknown }).result
  const jobsOf = async (stdout: string) => {
    const id = (JSON.parse(stdout) as { executionId: string }).executionId
    const log = await runCli(["log", id, "--json"], { cwd: project.dir })
    return (JSON.parse(log.stdout) as Statuses).jobs
  }

  before(async () => {
    project = await tempProject()
    await project.write("workflow.ts", workflow)
    await project.write("reductio.config.ts", config)
    await project.write("ctx.json", JSON.stringify({ tool: { threads: 7, mode: "file" } }))
  })
  after(() => project.remove())

  it("reads the context from the configuration, a context file and --context flags, later ones winning", async () => {
    const fromConfig = await run(["leaf", "--x", "1"])
    assert.equal(fromConfig.code, 0, fromConfig.stderr)
    assert.deepEqual(result(fromConfig.stdout), { x: 1, threads: 2, mode: "plain" })
    const fromFile = await run(["leaf", "--x", "1", "--context-file", "ctx.json"])
    assert.deepEqual(result(fromFile.stdout), { x: 1, threads: 7, mode: "file" }, fromFile.stderr)
    const fromFlag = await run(["leaf", "--x", "1", "--context-file", "ctx.json", "--context", "tool.threads=9"])
    assert.deepEqual(result(fromFlag.stdout), { x: 1, threads: 9, mode: "file" }, fromFlag.stderr)
  })

  it("reruns only the calls that read a changed context key", async () => {
    const first = await run(["main", "--n", "2", "--context", "tool.threads=3"])
    assert.equal(first.code, 0, first.stderr)
    const second = await run(["main", "--n", "2", "--context", "tool.threads=4"])
    assert.deepEqual(result(second.stdout), [
      { x: 0, threads: 4, mode: "plain" },
      { x: 1, threads: 4, mode: "plain" },
    ])
    const jobs = await jobsOf(second.stdout)
    assert.deepEqual(
      jobs.filter((j) => j.taskName === "leaf").map((j) => j.status),
      ["DONE", "DONE"],
    )
    assert.deepEqual(
      jobs.filter((j) => j.taskName === "pass").map((j) => j.status),
      ["CACHED", "CACHED"],
    )
    assert.deepEqual(
      jobs.filter((j) => j.taskName === "main").map((j) => j.status),
      ["CACHED"],
    )
  })

  it("applies the named profiles in order", async () => {
    const big = await run(["leaf", "--x", "5", "--profile", "big,fast"])
    assert.deepEqual(result(big.stdout), { x: 5, threads: 32, mode: "fast" }, big.stderr)
    const fromEnv = await runCli(["run", "workflow.ts", "leaf", "--x", "5", "--json"], {
      cwd: project.dir,
      env: { REDUCTIO_PROFILE: "big" },
    })
    assert.deepEqual(result(fromEnv.stdout), { x: 5, threads: 32, mode: "plain" }, fromEnv.stderr)
    const unknown = await run(["leaf", "--x", "5", "--profile", "huge"])
    assert.equal(unknown.code, 2)
    assert.match(unknown.stderr + unknown.stdout, /CONFIG_INVALID/)
    assert.match(unknown.stderr + unknown.stdout, /profiles: big, fast, broken/)
    const broken = await run(["leaf", "--x", "5", "--profile", "broken"])
    assert.equal(broken.code, 2)
  })

  it("overrides a task's options for one run with -o task=option=value", async () => {
    await run(["main", "--n", "1", "--context", "tool.threads=11"])
    const again = await run(["main", "--n", "1", "--context", "tool.threads=11", "-o", "leaf=cache=false"])
    assert.equal(again.code, 0, again.stderr)
    const jobs = await jobsOf(again.stdout)
    assert.deepEqual(
      jobs.filter((j) => j.taskName === "leaf").map((j) => j.status),
      ["DONE"],
    )
    const retried = await run(["flaky", "--marker", "a", "-o", "flaky=retries=2"])
    assert.equal(result(retried.stdout), 3, retried.stderr)
    const elsewhere = await run(["leaf", "--x", "99", "--task-option", "leaf=executor=nowhere"])
    assert.equal(elsewhere.code, 2)
    assert.match(elsewhere.stdout, /UNKNOWN_EXECUTOR/)
  })

  it("refuses a malformed or repeated override, an unknown option, task or context key given twice", async () => {
    for (const args of [
      ["-o", "leaf=memory"],
      ["-o", "leaf=colour=red"],
      ["-o", "leaf=memory=lots"],
      ["-o", "nosuch=memory=1"],
      ["-o", "leaf=memory=1", "-o", "leaf=memory=2"],
      ["--context", "tool.threads"],
      ["--context", "tool.threads=1", "--context", "tool.threads=2"],
      ["--context-file", "missing.json"],
    ]) {
      const failed = await runCli(["run", "workflow.ts", "leaf", "--x", "1", ...args], { cwd: project.dir })
      assert.equal(failed.code, 2, args.join(" "))
      assert.match(failed.stderr, /INVALID_ARGUMENT|TASK_NOT_FOUND/, args.join(" "))
    }
  })
})
