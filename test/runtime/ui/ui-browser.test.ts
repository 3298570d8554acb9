/**
 * The UI in a real browser: Debian's chromium driven by playwright-core, headless, on a recorded
 * run with a failing task (and the report written for it, opened from disk).
 */
import assert from "node:assert/strict"
import { existsSync } from "node:fs"
import { mkdir, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import { pathToFileURL } from "node:url"
import type { Browser, Page } from "playwright-core"
import { SqliteBackend } from "../../../runtime/backend/sqlite-backend.js"
import { Scheduler } from "../../../runtime/scheduler/scheduler.js"
import { task } from "../../../runtime/task.js"
import { buildReport } from "../../../runtime/ui/report.js"
import { UiServer } from "../../../runtime/ui/ui-server.js"
import { tempDir } from "../../agent/agent-harness.js"
import { type RecordedRuns, recordUiRuns } from "../../support/ui-runs.js"

const CHROMIUM = "/usr/bin/chromium"
const skip = existsSync(CHROMIUM) ? false : `chromium is not installed at ${CHROMIUM} (apt-get install -y chromium; .ci/run installs it)`

/** Resolved by the spec: the body of `uitest.gate` returns once it is. */
let openGate: () => void = () => undefined
const gate = task("uitest.gate", async (label: string) => {
  await new Promise<void>((resolve) => (openGate = resolve))
  return label
})

/** How many distinct colors a PNG screenshot holds (a blank page has one or two). */
async function colorsIn(page: Page, png: Buffer): Promise<number> {
  // Runs in the page (a string: this file is type-checked without the DOM's types).
  const count = `(async () => {
    const image = new Image()
    image.src = "data:image/png;base64,${png.toString("base64")}"
    await image.decode()
    const canvas = document.createElement("canvas")
    canvas.width = image.width
    canvas.height = image.height
    const context = canvas.getContext("2d")
    context.drawImage(image, 0, 0)
    const data = context.getImageData(0, 0, image.width, image.height).data
    const colors = new Set()
    for (let i = 0; i < data.length; i += 28) colors.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2])
    return colors.size
  })()`
  return (await page.evaluate(count)) as number
}

describe("the UI in chromium", { skip }, () => {
  let dir: string
  let runs: RecordedRuns
  let backend: SqliteBackend
  let server: UiServer
  let url: string
  let browser: Browser
  let shots: string

  before(async () => {
    dir = await tempDir("reductio-ui-browser-")
    shots = process.env["REDUCTIO_UI_SCREENSHOTS"] ?? join(dir, "screenshots")
    await mkdir(shots, { recursive: true })
    runs = await recordUiRuns(dir)
    backend = new SqliteBackend(runs.dbPath)
    await backend.open()
    server = new UiServer({ backend, port: 0 })
    url = await server.start()
    const { chromium } = await import("playwright-core")
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-background-networking"] })
  })
  after(async () => {
    await browser?.close()
    await server?.stop()
    await backend?.close()
  })

  const newPage = async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    const errors: string[] = []
    page.on("pageerror", (error) => errors.push(error.message))
    return { page, errors }
  }

  it("opens on the latest execution, draws its call graph, and shows the failed job's arguments and error", async () => {
    const { page, errors } = await newPage()
    await page.goto(url)
    await page.locator(".execution-header").getByText(runs.failedId).waitFor()
    const failedNode = page.locator('svg.graph-canvas .node[data-status="FAILED"][data-task="uitest.explode"]')
    await failedNode.waitFor()
    assert.equal(await page.locator("svg.graph-canvas .node").count(), 3)
    const graphShot = await page.screenshot({ path: join(shots, "execution-graph.png"), fullPage: true })
    assert.ok((await colorsIn(page, graphShot)) > 20, "the graph screenshot is not blank")

    await failedNode.click()
    await page.locator("#arguments").getByText('{name: "s1", reads: 7}').waitFor()
    const error = await page.locator("#error").innerText()
    assert.match(error, /sample s1 has 7 reads: too many/)
    assert.match(error, /stack/)
    const jobShot = await page.screenshot({ path: join(shots, "failed-job.png"), fullPage: true })
    assert.ok((await colorsIn(page, jobShot)) > 20, "the job screenshot is not blank")
    assert.deepEqual(errors, [])
    await page.close()
  })

  it("lists executions, shows a timeline, follows a File to its lineage and a task to its source", async () => {
    const { page, errors } = await newPage()
    await page.goto(`${url}#/executions`)
    await page.locator("table.executions tbody tr").nth(1).waitFor()
    assert.equal(await page.locator("table.executions tbody tr").count(), 2)
    await page.screenshot({ path: join(shots, "executions.png"), fullPage: true })

    await page.goto(`${url}#/executions/${runs.okId}?view=timeline`)
    await page.locator(".timeline .bar-job").first().waitFor()
    assert.equal(await page.locator(".timeline .bar-job").count(), 7)
    await page.screenshot({ path: join(shots, "timeline.png"), fullPage: true })

    await page.goto(`${url}#/executions/${runs.okId}?view=jobs&task=uitest.write`)
    await page.locator("table.list tbody tr a").first().click()
    await page.locator(".files a").first().click()
    await page.getByText("Produced by").waitFor()
    await page.locator("ul.uses").getByText("uitest.shout").waitFor()
    await page.screenshot({ path: join(shots, "file-lineage.png"), fullPage: true })
    assert.deepEqual(errors, [])
    await page.close()
  })

  it("updates a running execution live, without a reload", async () => {
    let executionId = ""
    const scheduler = new Scheduler({
      backend,
      onEvent: (event) => event.type === "execution-started" && (executionId = event.executionId),
    })
    const running = scheduler.run(gate("live"), { command: "run workflow.ts gate" })
    const { page } = await newPage()
    while (executionId === "") await new Promise((resolve) => setTimeout(resolve, 20))
    await page.goto(`${url}#/executions/${executionId}`)
    await page.locator(".execution-header .status-running").waitFor()
    await page.locator(".live").waitFor()
    openGate()
    await running
    await page.locator(".execution-header .status-done").waitFor({ timeout: 10_000 })
    await page.locator('svg.graph-canvas .node[data-status="DONE"]').waitFor()
    await page.close()
  })

  it("writes a report that opens from disk with the same views", async () => {
    const report = await buildReport(backend, runs.failedId, { jobPages: 100 })
    const file = join(dir, "run.html")
    await writeFile(file, report.text)
    const { page, errors } = await newPage()
    await page.goto(pathToFileURL(file).href)
    const failedNode = page.locator('svg.graph-canvas .node[data-status="FAILED"][data-task="uitest.explode"]')
    await failedNode.waitFor()
    await page.screenshot({ path: join(shots, "report-graph.png"), fullPage: true })
    await failedNode.click()
    await page.locator("#error .error-text").getByText("too many").waitFor()
    await page.goto(`${pathToFileURL(file).href}#/executions/${runs.failedId}?view=timeline`)
    await page.locator(".timeline .bar-job").first().waitFor()
    assert.deepEqual(errors, [])
    await page.close()
  })
})
