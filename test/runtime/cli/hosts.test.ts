/**
 * Several `reductio run` processes on one SQLite database (hosts sharing a cache): overlapping
 * runs execute each call once, a killed host's call is taken over once its lease expires, and its
 * execution shows as ABANDONED to `reductio log` and is pushed once.
 */
import assert from "node:assert/strict"
import { existsSync, readFileSync } from "node:fs"
import { readdir, readFile } from "node:fs/promises"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import { SqliteBackend } from "../../../runtime/backend/sqlite-backend.js"
import { runCli } from "../../support/cli.js"
import { type TempProject, tempProject } from "../../support/project.js"

const workflow = `
import { appendFileSync, mkdirSync } from "node:fs"
import { currentSignal, task } from "reductio-workflow"

export const inc = task("inc", async (x: number) => {
  mkdirSync("runs", { recursive: true })
  appendFileSync("runs/" + x, process.pid + "\\n")
  await new Promise((resolve) => setTimeout(resolve, 5))
  return x + 1
})
export const fan = task("fan", (from: number, to: number) => Array.from({ length: to - from }, (_, i) => inc(from + i)))

export const slow = task("slow", async (tag: string) => {
  const signal = currentSignal()
  appendFileSync("slow-runs", process.pid + "\\n")
  await new Promise((resolve) => {
    const timer = setTimeout(resolve, Number(process.env.SLOW_MS ?? 60000))
    signal.addEventListener("abort", () => resolve(clearTimeout(timer)))
  })
  return tag + "!"
})
`

describe("hosts sharing one SQLite database", () => {
  let project: TempProject
  before(async () => {
    project = await tempProject("reductio-hosts-")
    await project.write("workflow.ts", workflow)
    // Short leases, so a killed host's call is taken over within seconds.
    await project.write("reductio.config.ts", "export default { heartbeat: { intervalSeconds: 0.25, expirySeconds: 3 } }\n")
  })
  after(() => project.remove())

  it("runs each call once when four runs with overlapping fan-outs start together", async () => {
    const ranges = [0, 50, 100, 150].map((from) => ({ from, to: from + 200 }))
    const results = await Promise.all(
      ranges.map(({ from, to }) => runCli(["run", "workflow.ts", "fan", "--from", String(from), "--to", String(to)], { cwd: project.dir })),
    )
    results.forEach((result, i) => {
      assert.equal(result.code, 0, result.stderr)
      const { from, to } = ranges[i] as { from: number; to: number }
      assert.deepEqual(
        JSON.parse(result.stdout),
        Array.from({ length: to - from }, (_, k) => from + k + 1),
      )
    })
    const names = await readdir(join(project.dir, "runs"))
    assert.equal(names.length, 350)
    for (const name of names) {
      const pids = (await readFile(join(project.dir, "runs", name), "utf8")).trim().split("\n")
      assert.equal(pids.length, 1, `inc(${name}) ran ${pids.length} times`)
    }
  })

  it("takes over the call of a host killed with SIGKILL once its lease expires; log shows it ABANDONED and push copies it once", async () => {
    // Another run in the background, so the one killed takes call leases (a run alone takes none).
    let stopBackground = false
    const background = runCli(["run", "workflow.ts", "slow", "--tag", "background"], {
      cwd: project.dir,
      interruptWhen: () => stopBackground,
    })
    const marked = (count: number) =>
      existsSync(join(project.dir, "slow-runs")) && readFileSync(join(project.dir, "slow-runs"), "utf8").trim().split("\n").length >= count
    while (!marked(1)) await new Promise((resolve) => setTimeout(resolve, 50))
    // Killed once its task runs and its job is recorded RUNNING (rows go out every 200 ms).
    const database = new SqliteBackend(join(project.dir, ".reductio", "reductio.db"))
    await database.open()
    let jobsRunning = 0
    const watch = setInterval(async () => {
      const rows = await database.db.selectFrom("job").select("seq").where("status", "=", "RUNNING").execute()
      jobsRunning = rows.length
    }, 50)
    const killed = await runCli(["run", "workflow.ts", "slow", "--tag", "x"], {
      cwd: project.dir,
      killWhen: () => marked(2) && jobsRunning >= 2,
    }).finally(async () => {
      clearInterval(watch)
      await database.close()
    })
    assert.equal(killed.code, null, "killed by SIGKILL")
    const startedAt = Date.now()
    const taker = await runCli(["run", "workflow.ts", "slow", "--tag", "x"], { cwd: project.dir, env: { SLOW_MS: "50" } })
    stopBackground = true
    assert.equal((await background).code, 130)
    assert.equal(taker.code, 0, taker.stderr)
    assert.equal(taker.stdout.trim(), "x!")
    // Its lease expired while this run waited on it, or before this run started (then it was abandoned).
    assert.match(taker.stderr, /took over 1 call\(s\) from execution \S+, whose lease expired|execution \S+ is ABANDONED/)
    assert.ok(Date.now() - startedAt < 20_000)
    assert.equal((await readFile(join(project.dir, "slow-runs"), "utf8")).trim().split("\n").length, 3)

    const listed = await runCli(["log", "--json", "--limit", "3"], { cwd: project.dir })
    // Newest first: the run that took over, the one killed, the background one (cancelled).
    const [latest, dead, oldest] = JSON.parse(listed.stdout) as { id: string; status: string }[]
    assert.deepEqual([latest?.status, dead?.status, oldest?.status], ["DONE", "ABANDONED", "CANCELLED"])
    const shown = await runCli(["log", dead?.id ?? "", "--json"], { cwd: project.dir })
    assert.deepEqual(
      (JSON.parse(shown.stdout) as { jobs: { status: string }[] }).jobs.map((job) => job.status),
      ["ABANDONED"],
    )

    const push = (ids: string[]) => runCli(["push", "pushed.db", ...ids, "--json"], { cwd: project.dir })
    const first = JSON.parse((await push([dead?.id ?? ""])).stdout) as { executions: number; present: number }
    const second = JSON.parse((await push([dead?.id ?? ""])).stdout) as { executions: number; present: number }
    assert.deepEqual([first.executions, second.executions, second.present], [1, 0, 1])
  })
})
