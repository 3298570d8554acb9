/**
 * A fan-out of N calls (default 10,000) through the AwsBatchExecutor, end to end through the
 * Scheduler, against the test Batch endpoint and moto's S3. Children run in the endpoint's fast
 * mode (test/support/batch-runner.ts: the agent's protocol in-process, the task function from this
 * process's registry, the array input read once, no existing-output check, no log object), so the
 * figures are the executor's: Batch calls, S3 requests, and how fast a fan-out is submitted.
 * S3 requests are counted by a small proxy in front of moto. Prints JSON figures.
 *
 *   node --conditions=reductio-source --import tsx bench/batch-fanout.ts [calls]
 */
import { randomBytes } from "node:crypto"
import { type IncomingMessage, type ServerResponse, createServer, request as httpRequest } from "node:http"
import type { AddressInfo } from "node:net"
import { loadavg } from "node:os"
import { performance } from "node:perf_hooks"
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3"
import { MemoryBackend } from "../runtime/backend/memory-backend.js"
import { AwsBatchExecutor } from "../runtime/executor/aws-batch-executor.js"
import { Scheduler } from "../runtime/scheduler/scheduler.js"
import { configureS3 } from "../runtime/storage/storage-registry.js"
import * as fixture from "../test/fixtures/batch/workflow.js"
import { startBatchEndpoint } from "../test/support/batch-endpoint.js"
import { inProcessRunner } from "../test/support/batch-runner.js"
import { startMoto } from "../test/support/moto.js"

const calls = Number(process.argv[2] ?? 10_000)
const workflowPath = new URL("../test/fixtures/batch/workflow.ts", import.meta.url).pathname
const moto = await startMoto()
if (moto.skip !== false) throw new Error(moto.skip)

// Count S3 requests by method on their way to moto.
const s3Requests: { method: string; at: number }[] = []
const proxy = createServer((incoming: IncomingMessage, outgoing: ServerResponse) => {
  s3Requests.push({ method: incoming.method ?? "?", at: performance.now() })
  const target = new URL(moto.endpoint)
  const forward = httpRequest(
    { host: target.hostname, port: target.port, method: incoming.method, path: incoming.url, headers: incoming.headers },
    (answer) => {
      outgoing.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(outgoing)
    },
  )
  forward.on("error", () => outgoing.destroy())
  incoming.pipe(forward)
})
await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve))
const s3Endpoint = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`

try {
  configureS3({ endpoint: s3Endpoint, region: moto.region, credentials: moto.credentials, forcePathStyle: true, maxAttempts: 10 })
  const bucket = `bench-${randomBytes(4).toString("hex")}`
  const s3 = new S3Client({ endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials, forcePathStyle: true })
  await s3.send(new CreateBucketCommand({ Bucket: bucket }))
  s3.destroy()
  s3Requests.length = 0

  const childStarts: number[] = []
  const childEnds: number[] = []
  const runner = inProcessRunner({ skipLog: true, checkExisting: false })
  const batch = await startBatchEndpoint({
    agentPath: "unused-in-fast-mode",
    concurrency: 64,
    runner: (spec) => {
      childStarts.push(performance.now())
      const child = runner(spec)
      void child.exit.then(() => childEnds.push(performance.now()))
      return child
    },
  })
  const executor = new AwsBatchExecutor({
    image: "reductio-agent:bench",
    queue: "bench",
    scratch: `s3://${bucket}/scratch`,
    endpoint: batch.endpoint,
    region: moto.region,
    credentials: moto.credentials,
  })
  let firstSubmitAt: number | undefined
  const submit = executor.submit.bind(executor)
  executor.submit = (job) => {
    firstSubmitAt ??= performance.now()
    return submit(job)
  }
  const scheduler = new Scheduler({ backend: new MemoryBackend(), executors: { batch: executor }, workflowPath })
  const startedAt = performance.now()
  const value = await scheduler.run(fixture.sumOfSquares(calls, 0))
  const totalMs = performance.now() - startedAt
  await scheduler.stop()
  await batch.stop()

  const expected = ((calls - 1) * calls * (2 * calls - 1)) / 6
  if (value !== expected) throw new Error(`wrong sum ${value}, expected ${expected}`)
  const offset = performance.timeOrigin
  const submitTimes = batch.callLog.filter((call) => call.action === "SubmitJob").map((call) => call.at - offset)
  const lastSubmitAt = Math.max(...submitTimes)
  const runStart = Math.min(...childStarts)
  const runEnd = Math.max(...childEnds)
  const whileRunning = batch.callLog.filter((call) => call.at - offset >= runStart && call.at - offset <= runEnd)
  const firstChild = runStart
  const puts = (until: number) => s3Requests.filter((r) => r.method === "PUT" && r.at < until).length
  const batchCalls = batch.totalCalls()
  console.log(
    JSON.stringify(
      {
        calls,
        mode: "fast: children run the task in the endpoint's process and write outputs to moto S3",
        submitJobCalls: batch.calls.SubmitJob ?? 0,
        batchCallsByAction: batch.calls,
        s3PutsBeforeFirstChild: puts(firstChild),
        s3PutsByHost: s3Requests.filter((r) => r.method === "PUT").length - calls,
        readyToAllSubmittedMs: Math.round(lastSubmitAt - (firstSubmitAt ?? startedAt)),
        childrenRunMs: Math.round(runEnd - runStart),
        batchCallsPerSecondWhileRunning: Number((whileRunning.length / ((runEnd - runStart) / 1000)).toFixed(2)),
        batchCallsPerJob: Number((batchCalls / calls).toFixed(4)),
        s3RequestsPerJob: Number((s3Requests.length / calls).toFixed(3)),
        s3RequestsByMethod: countBy(s3Requests.map((r) => r.method)),
        totalMs: Math.round(totalMs),
        load: loadavg().map((l) => Number(l.toFixed(2))),
      },
      null,
      2,
    ),
  )
} finally {
  proxy.closeAllConnections()
  proxy.close()
  await moto.stop()
}

function countBy(values: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1
  return counts
}
