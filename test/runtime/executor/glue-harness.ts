// Shared by the Glue executor and shim tests: a fake Node runtime tarball, a runner that executes
// the shim with the machine's python3 exactly as Glue would (its arguments as `--name value`), the
// Spark stand-in installed as `pyspark`, and a proxy in front of moto's Glue that reports chosen
// runs as FAILED (moto's runs only ever succeed).
import { spawn } from "node:child_process"
import { copyFile, mkdir, mkdtemp, writeFile } from "node:fs/promises"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { packTarGz } from "../../../bundler/tarball.js"
import type { GlueRunStarted } from "../../../runtime/executor/aws-glue-executor.js"

export const shimPath = new URL("../../../docker/glue/reductio_glue_shim.py", import.meta.url).pathname
export const glueWorkflow = new URL("../../fixtures/glue/workflow.ts", import.meta.url).pathname
const standin = new URL("../../support/spark-standin.py", import.meta.url).pathname

/** A `node-v0-linux-x64.tar.gz` whose `bin/node` execs this machine's node (what Glue would download). */
export async function fakeNodeRuntime(dir: string): Promise<string> {
  const script = `#!/bin/sh\nexec "${process.execPath}" "$@"\n`
  const bytes = await packTarGz([{ path: "node-v0-linux-x64/bin/node", bytes: Buffer.from(script), mode: 0o755 }])
  const path = join(dir, "node-v0-linux-x64.tar.gz")
  await writeFile(path, bytes)
  return path
}

/** A directory holding the Spark stand-in as the `pyspark` package, for PYTHONPATH. */
export async function sparkPath(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "reductio-pyspark-"))
  await mkdir(join(dir, "pyspark"))
  await copyFile(standin, join(dir, "pyspark", "__init__.py"))
  return dir
}

/** What one shim run printed and how it exited. */
export interface ShimRun {
  readonly code: number | null
  readonly output: string
}

/** Runs the shim as Glue does: `python3 script.py --JOB_ID … --name value …`. */
export function runShim(args: Readonly<Record<string, string>>, env: Readonly<Record<string, string>>): Promise<ShimRun> {
  const argv = [shimPath, "--JOB_ID", "j_test", ...Object.entries(args).flat()]
  const child = spawn("python3", argv, { env: { PATH: process.env["PATH"] ?? "", ...env }, stdio: ["ignore", "pipe", "pipe"] })
  let output = ""
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()))
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()))
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, output })))
}

/**
 * An executor `runner` that runs the shim for each started run; a non-zero exit marks the run
 * FAILED in `proxy`, as Glue would.
 */
export function shimRunner(env: Readonly<Record<string, string>>, proxy: FailingGlueProxy, runs: ShimRun[] = []) {
  return async (run: GlueRunStarted): Promise<void> => {
    const result = await runShim(run.arguments, env)
    runs.push(result)
    if (process.env["REDUCTIO_SHIM_DEBUG"] === "1") console.error(result.output)
    if (result.code !== 0) proxy.fail(run.runId, `SystemExit: ${result.code}`)
  }
}

/** A proxy in front of moto that rewrites GetJobRun for chosen runs to FAILED with an ErrorMessage. */
export interface FailingGlueProxy {
  readonly endpoint: string
  fail(runId: string, errorMessage: string): void
  close(): Promise<void>
}

export async function failingGlueProxy(target: string): Promise<FailingGlueProxy> {
  const failing = new Map<string, string>()
  const server: Server = createServer(async (request, response) => {
    const chunks: Buffer[] = []
    for await (const chunk of request) chunks.push(chunk as Buffer)
    const body = Buffer.concat(chunks)
    const headers: Record<string, string> = {}
    for (const [key, value] of Object.entries(request.headers)) if (typeof value === "string" && key !== "host") headers[key] = value
    const upstream = await fetch(`${target}${request.url ?? "/"}`, {
      method: request.method ?? "POST",
      headers,
      body: body.length > 0 ? body : undefined,
    })
    let text = await upstream.text()
    const rewritten =
      request.headers["x-amz-target"] === "AWSGlue.GetJobRun" ? failing.get(JSON.parse(body.toString()).RunId as string) : undefined
    if (rewritten !== undefined && upstream.ok) {
      const parsed = JSON.parse(text) as { JobRun: Record<string, unknown> }
      parsed.JobRun = { ...parsed.JobRun, JobRunState: "FAILED", ErrorMessage: rewritten }
      text = JSON.stringify(parsed)
    }
    const out: Record<string, string> = {}
    upstream.headers.forEach((value, key) => {
      if (key !== "content-length" && key !== "content-encoding" && key !== "transfer-encoding") out[key] = value
    })
    response.writeHead(upstream.status, out)
    response.end(text)
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return {
    endpoint: `http://127.0.0.1:${port}`,
    fail: (runId, errorMessage) => failing.set(runId, errorMessage),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
}
