/**
 * The UI on a 10,000-job execution (default; the first argument changes it): records a fan-out on
 * a temporary SQLite database, then times the API's answers over HTTP (best of 3, with their
 * sizes) and, when chromium is installed, the page's render of the call graph and the timeline.
 * Prints JSON figures.
 *
 *   node --conditions=reductio-source --import tsx bench/ui-load.ts [jobs]
 */
import { existsSync } from "node:fs"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { performance } from "node:perf_hooks"
import { SqliteBackend } from "../runtime/backend/sqlite-backend.js"
import { Scheduler } from "../runtime/scheduler/scheduler.js"
import { task } from "../runtime/task.js"
import { UiServer } from "../runtime/ui/ui-server.js"

const CHROMIUM = "/usr/bin/chromium"
const jobs = Number(process.argv[2] ?? 10_000)
const inc = task("bench.ui.inc", (x: number) => x + 1)
const fanout = task("bench.ui.fanout", (n: number) => Array.from({ length: n }, (_, i) => inc(i)))

const dir = await mkdtemp(join(tmpdir(), "reductio-bench-ui-"))
const backend = new SqliteBackend(join(dir, "reductio.db"))
await backend.open()
let server: UiServer | undefined
try {
  let executionId = ""
  const recordStart = performance.now()
  await new Scheduler({ backend, onEvent: (event) => event.type === "execution-started" && (executionId = event.executionId) }).run(
    fanout(jobs - 1),
    { command: `run bench fanout ${jobs - 1}` },
  )
  const recordMs = performance.now() - recordStart
  server = new UiServer({ backend, port: 0 })
  const url = await server.start()
  const api: Record<string, { ms: number; bytes: number }> = {}
  const time = async (name: string, path: string) => {
    let best = Number.POSITIVE_INFINITY
    let bytes = 0
    for (let i = 0; i < 3; i++) {
      const start = performance.now()
      const response = await fetch(`${url}${path.slice(1)}`)
      const text = await response.text()
      if (!response.ok) throw new Error(`${path}: ${response.status} ${text.slice(0, 200)}`)
      best = Math.min(best, performance.now() - start)
      bytes = text.length
    }
    api[name] = { ms: Math.round(best * 10) / 10, bytes }
  }
  await time("executions", "/api/executions")
  await time("execution (graph per task)", `/api/executions/${executionId}`)
  await time("execution (graph per job, 2,000 at most)", `/api/executions/${executionId}?graph=jobs`)
  await time("timeline", `/api/executions/${executionId}/timeline`)
  await time("jobs page of 100", `/api/executions/${executionId}/jobs?limit=100&offset=5000`)
  await time("job", `/api/jobs/${executionId}/5000`)

  let browser: Record<string, number | string> = { skipped: `no chromium at ${CHROMIUM}` }
  if (existsSync(CHROMIUM)) {
    const { chromium } = await import("playwright-core")
    const instance = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-background-networking"],
    })
    try {
      const page = await instance.newPage({ viewport: { width: 1280, height: 900 } })
      let start = performance.now()
      await page.goto(`${url}#/executions/${executionId}`)
      await page.locator("svg.graph-canvas .node").first().waitFor()
      const graphMs = performance.now() - start
      // Again, in a page whose browser is warm (the first navigation starts chromium's renderer).
      await page.goto("about:blank")
      start = performance.now()
      await page.goto(`${url}#/executions/${executionId}`)
      await page.locator("svg.graph-canvas .node").first().waitFor()
      const graphWarmMs = performance.now() - start
      const shots = process.env["REDUCTIO_UI_SCREENSHOTS"]
      if (shots !== undefined) await page.screenshot({ path: join(shots, "bench-graph-10000.png"), fullPage: true })
      start = performance.now()
      await page.goto(`${url}#/executions/${executionId}?view=timeline`)
      // Big timelines draw their bars on a canvas, which says how many it drew.
      const drawn = jobs > 1500 ? page.locator(`.timeline canvas[data-bars="${jobs}"]`) : page.locator(".timeline .bar-job").nth(jobs - 1)
      await drawn.waitFor({ state: "attached" })
      const timelineMs = performance.now() - start
      if (shots !== undefined) await page.screenshot({ path: join(shots, "bench-timeline-10000.png"), fullPage: true })
      start = performance.now()
      await page.goto(`${url}#/jobs/${executionId}/5000`)
      await page.locator("#arguments").waitFor()
      const jobMs = performance.now() - start
      browser = {
        graphPageMs: Math.round(graphMs),
        graphPageWarmMs: Math.round(graphWarmMs),
        timelinePageMs: Math.round(timelineMs),
        jobPageMs: Math.round(jobMs),
      }
    } finally {
      await instance.close()
    }
  }
  process.stdout.write(`${JSON.stringify({ bench: "ui-load", jobs, recordMs: Math.round(recordMs), api, browser }, null, 2)}\n`)
} finally {
  await server?.stop()
  await backend.close()
  await rm(dir, { recursive: true, force: true })
}
