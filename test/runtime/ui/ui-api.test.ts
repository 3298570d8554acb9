import assert from "node:assert/strict"
import { request } from "node:http"
import { after, before, describe, it } from "node:test"
import { SqliteBackend } from "../../../runtime/backend/sqlite-backend.js"
import { answerApi } from "../../../runtime/ui/ui-api.js"
import { UiServer } from "../../../runtime/ui/ui-server.js"
import { tempDir } from "../../agent/agent-harness.js"
import { type RecordedRuns, recordUiRuns } from "../../support/ui-runs.js"

interface ApiError {
  error: { code: string; message: string }
}

describe("the UI's JSON API", () => {
  let runs: RecordedRuns
  let backend: SqliteBackend
  const get = async (path: string) => {
    const url = new URL(path, "http://localhost")
    // biome-ignore lint/suspicious/noExplicitAny: the specs read JSON answers field by field
    return (await answerApi(backend, url.pathname, url.searchParams)) as { status: number; body: any }
  }
  const ok = async (path: string) => {
    const answer = await get(path)
    assert.equal(answer.status, 200, JSON.stringify(answer.body))
    return answer.body
  }
  const refused = async (path: string, status: number, code: string) => {
    const answer = await get(path)
    assert.equal(answer.status, status, `${path}: ${JSON.stringify(answer.body)}`)
    assert.equal((answer.body as ApiError).error.code, code, path)
  }

  before(async () => {
    runs = await recordUiRuns(await tempDir("reductio-ui-api-"))
    backend = new SqliteBackend(runs.dbPath)
    await backend.open()
  })
  after(() => backend.close())

  it("lists executions newest first with their status, command, duration, tags and counts by status", async () => {
    const { executions, more } = await ok("/api/executions")
    assert.deepEqual(
      executions.map((e: { id: string; status: string }) => [e.id, e.status]),
      [
        [runs.failedId, "FAILED"],
        [runs.okId, "DONE"],
      ],
    )
    assert.equal(more, false)
    const [, done] = executions
    assert.equal(done.command, "run workflow.ts main --n 3")
    assert.equal(done.tags.team, "bio")
    assert.equal(typeof done.durationMs, "number")
    assert.deepEqual(done.counts.byStatus, { DONE: 7 })
    assert.equal(done.totals.jobs, 7)
  })

  it("filters executions by status, tag and task, and pages them", async () => {
    const ids = async (query: string) => (await ok(`/api/executions?${query}`)).executions.map((e: { id: string }) => e.id)
    assert.deepEqual(await ids("status=failed"), [runs.failedId])
    assert.deepEqual(await ids("tag=team=bio"), [runs.okId])
    assert.deepEqual(await ids("task=uitest.explode"), [runs.failedId])
    const page = await ok("/api/executions?limit=1")
    assert.equal(page.more, true)
    assert.deepEqual(await ids("limit=1&offset=1"), [runs.okId])
  })

  it("refuses bad parameters with a coded 400 in JSON", async () => {
    for (const path of [
      "/api/executions?limit=0",
      "/api/executions?limit=abc",
      "/api/executions?limit=100000",
      "/api/executions?offset=-1",
      "/api/executions?status=NOPE",
      "/api/executions?task=%00x",
      `/api/executions/${runs.okId}?graph=circles`,
      `/api/executions/${runs.okId}/jobs?status=SLEEPING`,
      `/api/executions/${runs.okId}/jobs?parent=x`,
      "/api/executions/..%2F..%2Fetc",
      "/api/executions/%E0%A4%A",
      `/api/jobs/${runs.okId}/0`,
      `/api/jobs/${runs.okId}/1e3`,
      "/api/files",
      `/api/files?path=${"a".repeat(5000)}`,
    ]) {
      await refused(path, 400, "INVALID_ARGUMENT")
    }
  })

  it("answers 404 with NOT_FOUND for what is not there", async () => {
    await refused("/api/executions/19990101T000000-none", 404, "NOT_FOUND")
    await refused(`/api/jobs/${runs.okId}/999`, 404, "NOT_FOUND")
    await refused("/api/tasks/no.such.task", 404, "NOT_FOUND")
    await refused("/api/nothing", 404, "NOT_FOUND")
  })

  it("shows the latest execution as - with its call graph: one node per job, edges from parent to child", async () => {
    const { execution, graph } = await ok("/api/executions/-")
    assert.equal(execution.id, runs.failedId)
    assert.equal(graph.mode, "jobs")
    const failed = graph.nodes.find((node: { task: string }) => node.task === "uitest.explode")
    assert.equal(failed.status, "FAILED")
    assert.match(failed.args, /name: "s1"/)
    assert.match(failed.error, /too many/)
    const root = graph.nodes.find((node: { parentSeq: number | null }) => node.parentSeq === null)
    assert.ok(graph.edges.some(([from, to]: [number, number]) => from === root.seq && to === failed.seq))
  })

  it("groups the graph per task when asked (as it does for big fan-outs), with counts by status", async () => {
    const { graph } = await ok(`/api/executions/${runs.okId}?graph=tasks`)
    assert.equal(graph.mode, "tasks")
    const inc = graph.nodes.find((node: { task: string }) => node.task === "uitest.inc")
    assert.deepEqual([inc.count, inc.byStatus], [3, { DONE: 3 }])
    assert.deepEqual(
      graph.edges.find((edge: { to: string }) => edge.to === "uitest.inc"),
      { from: "uitest.fanout", to: "uitest.inc", count: 3 },
    )
  })

  it("pages an execution's jobs, filtered by task", async () => {
    const page = await ok(`/api/executions/${runs.okId.slice(0, 20)}/jobs?task=uitest.inc&limit=2`)
    assert.equal(page.executionId, runs.okId)
    assert.deepEqual(
      page.jobs.map((job: { args: string }) => job.args),
      ["0", "1"],
    )
    assert.equal(page.more, true)
  })

  it("serves the timeline in columns of times from the execution's start", async () => {
    const timeline = await ok(`/api/executions/${runs.okId}/timeline`)
    const { jobs, tasks } = timeline
    assert.equal(jobs.seq.length, 7)
    for (const column of Object.values(jobs) as unknown[][]) assert.equal(column.length, 7)
    assert.ok(tasks.includes("uitest.inc"))
    assert.deepEqual(timeline.executors, ["local"])
    assert.deepEqual(jobs.executor, [0, 0, 0, 0, 0, 0, 0])
    for (let i = 0; i < 7; i++) {
      assert.ok(jobs.created[i] >= 0)
      assert.ok(jobs.started[i] >= jobs.created[i] && jobs.bodyEnded[i] >= jobs.started[i] && jobs.ended[i] >= jobs.bodyEnded[i])
    }
  })

  it("shows a failed job: its task, decoded arguments, error with its stack, times and parent", async () => {
    const { graph } = await ok(`/api/executions/${runs.failedId}`)
    const failed = graph.nodes.find((node: { task: string }) => node.task === "uitest.explode")
    const job = await ok(`/api/jobs/${runs.failedId}/${failed.seq}`)
    assert.equal(job.task.name, "uitest.explode")
    assert.match(job.task.hash, /^[0-9a-f]{64}$/)
    assert.equal(job.args.items[0].preview, '{name: "s1", reads: 7}')
    assert.match(job.error.message, /sample s1 has 7 reads: too many/)
    assert.match(job.error.stack, /ui-runs\.ts/)
    assert.equal(job.result, null)
    assert.equal(typeof job.times.waitMs, "number")
    assert.equal(job.parent.task, "uitest.failing")
    assert.equal(job.cached, false)
    assert.equal(job.executor, "local")
    assert.equal(job.executorJobId, null)
  })

  it("shows Files in a job's result, and a file's lineage: who produced it and who consumed it", async () => {
    const page = await ok(`/api/executions/${runs.okId}/jobs?task=uitest.write`)
    const [writeJob] = page.jobs
    const job = await ok(`/api/jobs/${runs.okId}/${writeJob.seq}`)
    assert.deepEqual(
      job.result.files.map((file: { kind: string; path: string }) => [file.kind, file.path]),
      [["File", runs.filePath]],
    )
    const lineage = await ok(`/api/files?path=${encodeURIComponent(runs.filePath)}`)
    assert.deepEqual(
      lineage.producers.map((p: { task: string; seq: number; executionId: string }) => [p.task, p.seq, p.executionId]),
      [["uitest.write", writeJob.seq, runs.okId]],
    )
    assert.deepEqual(
      lineage.consumers.map((c: { task: string }) => c.task),
      ["uitest.shout"],
    )
  })

  it("shows a task's source as recorded and its versions", async () => {
    const task = await ok("/api/tasks/uitest.explode")
    assert.equal(task.versions.length, 1)
    assert.match(task.versions[0].source, /too many/)
    assert.equal(task.recentJobs[0].executionId, runs.failedId)
  })

  describe("the server", () => {
    let server: UiServer
    let url: URL
    const fetchRaw = (path: string, options: { method?: string; host?: string } = {}) =>
      new Promise<{ status: number; type: string; body: string }>((resolve, reject) => {
        const req = request(
          { host: url.hostname, port: url.port, path, method: options.method ?? "GET", headers: { host: options.host ?? url.host } },
          (res) => {
            let body = ""
            res.on("data", (chunk: Buffer) => (body += chunk.toString()))
            res.on("end", () => resolve({ status: res.statusCode ?? 0, type: String(res.headers["content-type"]), body }))
          },
        )
        req.on("error", reject)
        req.end()
      })

    before(async () => {
      server = new UiServer({ backend, port: 0 })
      url = new URL(await server.start())
    })
    after(() => server.stop())

    it("listens on 127.0.0.1 and serves the page, its assets and the API", async () => {
      assert.equal(url.hostname, "127.0.0.1")
      const page = await fetchRaw("/")
      assert.equal(page.status, 200)
      assert.match(page.body, /<script type="module" src="\/assets\/app\.js">/)
      assert.equal((await fetchRaw("/assets/app.js")).status, 200)
      const api = await fetchRaw("/api/executions?limit=1")
      assert.match(api.type, /^application\/json/)
      assert.equal(JSON.parse(api.body).executions[0].id, runs.failedId)
      const bad = await fetchRaw("/api/executions?limit=-5")
      assert.equal(bad.status, 400)
      assert.equal(JSON.parse(bad.body).error.code, "INVALID_ARGUMENT")
    })

    it("answers only GET, and only requests for a loopback host name", async () => {
      assert.equal((await fetchRaw("/api/executions", { method: "POST" })).status, 405)
      assert.equal((await fetchRaw("/api/executions", { host: "attacker.example:80" })).status, 421)
      assert.equal((await fetchRaw("/api/executions", { host: `localhost:${url.port}` })).status, 200)
    })
  })
})
