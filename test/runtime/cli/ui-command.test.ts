import assert from "node:assert/strict"
import { spawn } from "node:child_process"
import { readFile } from "node:fs/promises"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import { fileURLToPath } from "node:url"
import { cleanEnv, runCli, sourceNodeArgs } from "../../support/cli.js"
import { type TempProject, tempProject } from "../../support/project.js"

const workflow = `
import { task } from "reductio-workflow"

export const inc = task("inc", (x: number) => x + 1)
export const boom = task("boom", (sample: string) => {
  throw new Error(\`cannot align \${sample}\`)
})
export const main = task("main", (n: number) => [...Array.from({ length: n }, (_, i) => inc(i)), boom("s1")])
`
const bin = fileURLToPath(new URL("../../../bin/reductio.js", import.meta.url))

describe("reductio ui and reductio report", () => {
  let project: TempProject
  let executionId: string

  before(async () => {
    project = await tempProject()
    await project.write("workflow.ts", workflow)
    const result = await runCli(["run", "workflow.ts", "main", "--n", "3", "--json"], { cwd: project.dir })
    assert.equal(result.code, 1, result.stderr)
    executionId = (JSON.parse(result.stdout) as { executionId: string }).executionId
  })
  after(() => project.remove())

  it("serves the UI on 127.0.0.1, prints its URL, answers the API, and stops on SIGTERM", async () => {
    const child = spawn(process.execPath, [...sourceNodeArgs, bin, "ui", "--port", "0"], {
      cwd: project.dir,
      env: cleanEnv(),
      stdio: ["ignore", "pipe", "pipe"],
    })
    let stdout = ""
    let stderr = ""
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk.toString()
        const found = stdout.match(/reductio ui: (http:\/\/127\.0\.0\.1:\d+\/)/)
        if (found?.[1] !== undefined) resolve(found[1])
      })
      child.on("close", (code) => reject(new Error(`ui exited ${code}: ${stderr}`)))
    })
    const closed = new Promise<number | null>((resolve) => child.on("close", resolve))
    try {
      const list = (await (await fetch(`${url}api/executions`)).json()) as { executions: { id: string; status: string }[] }
      assert.deepEqual(
        list.executions.map((e) => [e.id, e.status]),
        [[executionId, "FAILED"]],
      )
      const latest = (await (await fetch(`${url}api/executions/-`)).json()) as { graph: { nodes: { task: string }[] } }
      assert.equal(latest.graph.nodes.length, 5)
      const page = await fetch(url)
      assert.match(await page.text(), /\/assets\/app\.js/)
    } finally {
      child.kill("SIGTERM")
    }
    assert.equal(await closed, 0, stderr)
  })

  it("refuses a port that is not one", async () => {
    const result = await runCli(["ui", "--port", "http"], { cwd: project.dir })
    assert.equal(result.code, 2)
    assert.match(result.stderr, /INVALID_ARGUMENT.*--port/)
  })

  it("writes one self-contained HTML report of an execution, with its graph data and the failed job's page", async () => {
    const result = await runCli(["report", "-", "-o", "run.html"], { cwd: project.dir })
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, /wrote .*run\.html \(execution /)
    const html = await readFile(join(project.dir, "run.html"), "utf8")
    assert.match(html, /<script type="application\/json" id="reductio-report">/)
    assert.doesNotMatch(html, /<script[^>]+src=/, "no script is loaded from elsewhere")
    assert.doesNotMatch(html, /<link[^>]+stylesheet/)
    const data = JSON.parse(html.match(/id="reductio-report">(.*?)<\/script>/s)?.[1] ?? "{}") as { answers: Record<string, unknown> }
    assert.ok(data.answers[`/api/executions/${executionId}`])
    assert.ok(data.answers[`/api/executions/${executionId}/timeline`])
    const jobPages = Object.entries(data.answers).filter(([path]) => path.startsWith("/api/jobs/"))
    assert.equal(jobPages.length, 5)
    assert.ok(jobPages.some(([, page]) => /cannot align s1/.test(JSON.stringify(page))))
  })

  it("names a missing execution with exit code 4", async () => {
    const result = await runCli(["report", "19990101T000000-none", "-o", "x.html"], { cwd: project.dir })
    assert.equal(result.code, 4)
    assert.match(result.stderr, /NOT_FOUND/)
  })
})
