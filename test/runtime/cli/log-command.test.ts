import assert from "node:assert/strict"
import { after, before, describe, it } from "node:test"
import { runCli } from "../../support/cli.js"
import { type TempProject, tempProject } from "../../support/project.js"

const workflow = `
import { File, task } from "reductio-workflow"

export const write = task("write", async (path: string, text: string) => {
  const file = new File(path)
  await file.write(text)
  return file
})
export const shout = task("shout", async (input: File, path: string) => {
  const file = new File(path)
  await file.write((await input.read()).toUpperCase())
  return file
})
export const relay = task("relay", (input: File) => shout(input, "relayed.txt"))
export const louder = task("louder", (input: File) => shout(input, "loudest.txt"))
export const main = task("main", () => [shout(write("lower.txt", "hello"), "upper.txt"), relay(write("lower.txt", "hello"))])
export const chainFiles = task("chainFiles", () => louder(shout(write("lower.txt", "hello"), "upper.txt")))
export const inc = task("inc", (x: number) => x + 1)
export const fanout = task("fanout", (n: number) => Array.from({ length: n }, (_, i) => inc(i)))
`

interface JobJson {
  seq: number
  parentSeq: number | null
  taskName: string
  status: string
  evalHash: string
  callHash: string | null
  createdAt: number
  startedAt: number | null
  bodyEndedAt: number | null
  endedAt: number | null
}

describe("reductio log", () => {
  let project: TempProject
  let executionId: string
  const cli = (args: string[]) => runCli(args, { cwd: project.dir })
  const runJson = async (args: string[]) => {
    const result = await cli(["run", "workflow.ts", ...args, "--json"])
    assert.equal(result.code, 0, result.stderr)
    return (JSON.parse(result.stdout) as { executionId: string }).executionId
  }
  const jobsOf = async (id: string) => {
    const result = await cli(["log", id, "--json"])
    assert.equal(result.code, 0, result.stderr)
    return JSON.parse(result.stdout) as { execution: { rootCallHash: string | null }; jobs: JobJson[] }
  }

  before(async () => {
    project = await tempProject()
    await project.write("workflow.ts", workflow)
    executionId = await runJson(["main"])
  })
  after(() => project.remove())

  it("lists executions as JSON", async () => {
    const result = await cli(["log", "--json"])
    assert.equal(result.code, 0, result.stderr)
    const executions = JSON.parse(result.stdout) as { id: string; status: string }[]
    assert.deepEqual(
      executions.map((e) => [e.id, e.status]),
      [[executionId, "DONE"]],
    )
  })

  it("prints an execution's job tree by id prefix, with argument previews and wait and run apart", async () => {
    const result = await cli(["log", executionId.slice(0, 18)])
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, /\n {2}5 jobs, 5 done, 0 cached\n/)
    assert.match(result.stdout, /\n {2}DONE\s+task main \(\)[^\n]*\n {4}DONE\s+task (write \("lower\.txt", "hello"\)|shout \(File\()/)
    assert.match(result.stdout, /task shout \(File\([^)]*lower\.txt\), "upper\.txt"\)\s+wait \d+\.\d{3}s run \d+\.\d{3}s\s+[0-9a-f]{12}/)
  })

  it("records the root call hash of the execution: the call hash of its root job", async () => {
    const { execution, jobs } = await jobsOf(executionId)
    const root = jobs.find((job) => job.parentSeq === null)
    assert.ok(root?.callHash)
    assert.equal(execution.rootCallHash, root.callHash)
  })

  it("shows the latest execution for -", async () => {
    const result = await cli(["log", "-"])
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, new RegExp(`^execution ${executionId} `))
  })

  it("shows one job by eval-hash prefix or as <execution>/<seq>: call, arguments, result, times, parent and children", async () => {
    const { jobs } = await jobsOf(executionId)
    const relay = jobs.find((job) => job.taskName === "relay") as JobJson
    const byHash = await cli(["log", relay.evalHash.slice(0, 10)])
    assert.equal(byHash.code, 0, byHash.stderr)
    assert.match(byHash.stdout, new RegExp(`^job ${executionId}/${relay.seq}  DONE`))
    assert.match(byHash.stdout, /\n {2}call +task relay /)
    assert.match(byHash.stdout, /\n {2}args +File\([^)]*lower\.txt\)\n/)
    assert.match(byHash.stdout, /\n {2}result +File\([^)]*relayed\.txt\)\n/)
    assert.match(byHash.stdout, /\n {2}times +created [\d-]+ [\d:]+ {2}wait \d+\.\d{3}s run \d+\.\d{3}s/)
    assert.match(byHash.stdout, new RegExp(`\\n {2}parent +${executionId}/1 {2}task main\\n`))
    assert.match(byHash.stdout, /\n {2}children +1\n +DONE +\S+\/\d+ +task shout \(File\([^)]*\), "relayed\.txt"\)/)
    const bySeq = await cli(["log", `${executionId}/${relay.seq}`])
    assert.equal(bySeq.stdout, byHash.stdout)
  })

  it("lists the jobs of a task, and the jobs with a status, newest first", async () => {
    const tasks = await cli(["log", "--task", "shout"])
    assert.equal(tasks.code, 0, tasks.stderr)
    const lines = tasks.stdout.trim().split("\n")
    assert.equal(lines.length, 2)
    for (const line of lines) assert.match(line, new RegExp(`^DONE +${executionId}/\\d+  task shout \\(File\\(`))
    const failed = await cli(["log", "--status", "failed"])
    assert.equal(failed.code, 0, failed.stderr)
    assert.equal(failed.stdout, "no job has status FAILED\n")
    const bad = await cli(["log", "--status", "BROKEN"])
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /INVALID_ARGUMENT/)
  })

  it("shows which call produced a file and which consumed it", async () => {
    const result = await cli(["log", "--file", "lower.txt"])
    assert.equal(result.code, 0, result.stderr)
    const [, produced, consumed] = result.stdout.split(/produced by:|consumed by:/)
    assert.match(produced ?? "", /write \("lower\.txt", "hello"\)\s+call [0-9a-f]{12}/)
    assert.doesNotMatch(produced ?? "", /relay|shout/)
    assert.match(consumed ?? "", /shout \(File\([^)]*\), "(upper|relayed)\.txt"\)\s+call [0-9a-f]{12}/)
    assert.match(consumed ?? "", /relay \(File\([^)]*\)\)\s+call [0-9a-f]{12}/)
    const json = await cli(["log", "--file", "upper.txt", "--json"])
    const { uses } = JSON.parse(json.stdout) as { uses: { taskName: string; role: string; executionId: string }[] }
    assert.deepEqual(
      uses.map((use) => [use.taskName, use.role, use.executionId]),
      [["shout", "output", executionId]],
    )
  })

  it("traces a file upstream: its producer, the files that producer consumed, and theirs", async () => {
    await runJson(["chainFiles"])
    const result = await cli(["log", "--file", "loudest.txt"])
    assert.equal(result.code, 0, result.stderr)
    assert.match(
      result.stdout,
      /produced by:\n {2}shout \(File\([^)]*upper\.txt\), "loudest\.txt"\)[^\n]*\n {4}from \S*upper\.txt \(file [0-9a-f]{12}\), produced by:\n {6}shout \(File\([^)]*lower\.txt\), "upper\.txt"\)[^\n]*\n {8}from \S*lower\.txt \(file [0-9a-f]{12}\), produced by:\n {10}write \("lower\.txt", "hello"\)/,
    )
  })

  it("filters executions by tag, and says so when no execution has it", async () => {
    const tagged = await cli(["tag", executionId, "release=v1"])
    assert.equal(tagged.code, 0, tagged.stderr)
    const hit = await cli(["log", "--tag", "release=v1", "--json"])
    assert.deepEqual(
      (JSON.parse(hit.stdout) as { id: string; tags: Record<string, string> }[]).map((e) => [e.id, e.tags.release]),
      [[executionId, "v1"]],
    )
    const miss = await cli(["log", "--tag", "release=v2"])
    assert.equal(miss.code, 0, miss.stderr)
    assert.equal(miss.stdout, "no execution has tag release=v2\n")
    const missJson = await cli(["log", "--tag", "release=v2", "--json"])
    assert.deepEqual(JSON.parse(missJson.stdout), [])
  })

  it("says NOT_FOUND for an unknown execution or call", async () => {
    const result = await cli(["log", "nope"])
    assert.equal(result.code, 4)
    assert.match(result.stderr, /NOT_FOUND/)
    const job = await cli(["log", `${executionId}/999`])
    assert.equal(job.code, 4)
    assert.match(job.stderr, /NOT_FOUND/)
  })

  it("pages through a large execution: a truncated tree by default, --all for all of it, --limit and --offset for a page", async () => {
    const id = await runJson(["fanout", "--n", "120"])
    const tree = await cli(["log", id])
    assert.equal(tree.code, 0, tree.stderr)
    assert.equal(tree.stdout.match(/ task inc \(/g)?.length, 50)
    assert.match(tree.stdout, new RegExp(`… 70 more jobs not shown: reductio log ${id} --all`))
    const all = await cli(["log", id, "--all"])
    assert.equal(all.stdout.match(/ task inc \(/g)?.length, 120)
    assert.doesNotMatch(all.stdout, /more jobs not shown/)
    const page = await cli(["log", id, "--limit", "10", "--offset", "100"])
    assert.equal(page.code, 0, page.stderr)
    assert.match(page.stdout, /jobs 101-110 of 121 in sequence order/)
    assert.match(page.stdout, /\n +101 ← 1 +DONE +task inc \(99\)/)
    assert.match(page.stdout, new RegExp(`… next: reductio log ${id} --limit 10 --offset 110`))
    const bad = await cli(["log", id, "--limit", "0"])
    assert.equal(bad.code, 2)
  })

  it("records the body's own times: a trivial call runs in no time however long it waited in a fan-out", async () => {
    const id = await runJson(["fanout", "--n", "2000"])
    const { jobs } = await jobsOf(id)
    // inc(0) … inc(119) are cached from the fan-out of 120: no body ran, so they have no body times.
    const cached = jobs.filter((job) => job.taskName === "inc" && job.status === "CACHED")
    assert.equal(cached.length, 120)
    for (const job of cached) assert.deepEqual([job.startedAt, job.bodyEndedAt], [null, null])
    const incs = jobs.filter((job) => job.taskName === "inc" && job.status === "DONE")
    assert.equal(incs.length, 1880)
    for (const job of incs) {
      assert.ok(job.startedAt !== null && job.bodyEndedAt !== null && job.endedAt !== null)
      assert.ok(job.createdAt <= job.startedAt && job.startedAt <= job.bodyEndedAt && job.bodyEndedAt <= job.endedAt)
    }
    const runs = incs.map((job) => (job.bodyEndedAt as number) - (job.startedAt as number)).sort((a, b) => a - b)
    const jobTimes = incs.map((job) => (job.endedAt as number) - job.createdAt).sort((a, b) => a - b)
    assert.ok((runs[940] as number) <= 2, `median run ${runs[940]} ms`)
    assert.ok((runs[940] as number) < (jobTimes[940] as number), "the job's own time is less than its time in the scheduler")
  })

  it("counts the same in the run summary and in log, calls reused with a cached parent included", async () => {
    const rerun = await cli(["run", "workflow.ts", "fanout", "--n", "120"])
    assert.equal(rerun.code, 0, rerun.stderr)
    const summary = rerun.stderr.match(/execution (\S+) DONE in [\d.]+s: ([^\n]+)/)
    assert.ok(summary, rerun.stderr)
    assert.equal(summary[2], "121 jobs, 0 done, 121 cached (120 reused with a cached parent)")
    const log = await cli(["log", summary[1] as string])
    assert.match(log.stdout, new RegExp(`\\n {2}${(summary[2] as string).replace(/[()]/g, "\\$&")}\\n`))
  })

  it("says AMBIGUOUS_PREFIX, listing the candidates, for a prefix several calls share", async () => {
    const incs = JSON.parse((await cli(["log", "--task", "inc", "--limit", "200", "--json"])).stdout) as JobJson[]
    // More than 16 different eval hashes: two of them share their first hex digit.
    const first = [...new Set(incs.map((job) => job.evalHash))].map((hash) => hash[0] as string)
    assert.ok(first.length > 16)
    const shared = first.find((digit, i) => first.indexOf(digit) !== i) as string
    const result = await cli(["log", shared])
    assert.equal(result.code, 2)
    assert.match(result.stderr, /AMBIGUOUS_PREFIX/)
    assert.match(result.stderr, new RegExp(`\\n {2}call ${shared}[0-9a-f]{15} `))
  })
})
