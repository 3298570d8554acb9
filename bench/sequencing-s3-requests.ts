/**
 * S3 requests of the examples/sequencing pipeline on moto, counted by a proxy in front of it:
 * by operation and per distinct object, for a first run and a cached rerun. Two executors: `local`
 * (every task in this process) and `batch` (every task in the real agent, a subprocess started by
 * the test Batch endpoint, against the same proxy), with the pipeline's outputs and the Batch
 * scratch both on S3. Prints JSON.
 *
 *   node --conditions=reductio-source --import tsx bench/sequencing-s3-requests.ts [samples] [executors]
 *   (executors: local,batch by default)
 */
import { spawnSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import { MemoryBackend } from "../runtime/backend/memory-backend.js"
import { AwsBatchExecutor } from "../runtime/executor/aws-batch-executor.js"
import type { Executor } from "../runtime/executor/executor.js"
import { LocalExecutor } from "../runtime/executor/local-executor.js"
import { MODE_KEY } from "../runtime/run.js"
import { Scheduler } from "../runtime/scheduler/scheduler.js"
import { configureS3 } from "../runtime/storage/storage-registry.js"
import { builtAgent } from "../test/agent/agent-harness.js"
import { startBatchEndpoint } from "../test/support/batch-endpoint.js"
import { createBucket, startMoto } from "../test/support/moto.js"
import { countBy, type S3Request, startS3Counter } from "../test/support/s3-counter.js"

// The example imports "reductio": it must resolve to these sources, not to dist/, or two kernels load.
if (!process.execArgv.some((arg) => arg.includes("reductio-source"))) {
  const again = spawnSync(process.execPath, ["--conditions=reductio-source", "--import", "tsx", ...process.argv.slice(1)], {
    stdio: "inherit",
  })
  process.exit(again.status ?? 1)
}

const samples = Number(process.argv[2] ?? 2)
const executorKinds = (process.argv[3] ?? "local,batch").split(",")
const workflowPath = new URL("../examples/sequencing/workflow.ts", import.meta.url).pathname
;(globalThis as Record<symbol, unknown>)[MODE_KEY] = "cli"
const { main } = await import("../examples/sequencing/workflow.js")

const started = await startMoto()
if (started.skip !== false) throw new Error(started.skip)
const moto = started
const counter = await startS3Counter(moto.endpoint)
const report: Record<string, unknown> = { bench: "sequencing-s3-requests", samples, readsPerSample: 200 }
try {
  configureS3({ endpoint: counter.endpoint, region: moto.region, credentials: moto.credentials, forcePathStyle: true })
  for (const kind of executorKinds) {
    const bucket = await createBucket(moto, `seq-${kind}`)
    const { executor, stop } = await executorFor(kind, bucket)
    const backend = new MemoryBackend()
    const runs: Record<string, unknown> = {}
    for (const name of ["firstRun", "cachedRerun"]) {
      counter.reset()
      const scheduler = new Scheduler({ backend, executors: { [kind]: executor }, defaultExecutor: kind, workflowPath })
      const started = performance.now()
      const summary = (await scheduler.run(main(samples, 200, `s3://${bucket}/seq`))) as { reads: number }
      if (summary.reads !== samples * 200) throw new Error(`wrong summary: ${JSON.stringify(summary)}`)
      runs[name] = { seconds: Number(((performance.now() - started) / 1000).toFixed(2)), ...summarize(counter.requests) }
    }
    await stop()
    report[kind] = runs
  }
  console.log(JSON.stringify(report, null, 2))
} finally {
  await counter.stop()
  await moto.stop()
}

async function executorFor(kind: string, bucket: string): Promise<{ executor: Executor; stop: () => Promise<void> }> {
  if (kind === "local") return { executor: new LocalExecutor(), stop: async () => undefined }
  if (kind !== "batch") throw new Error(`unknown executor ${kind} (local or batch)`)
  const batch = await startBatchEndpoint({
    agentPath: await builtAgent(),
    env: { ...moto.env, AWS_ENDPOINT_URL: counter.endpoint },
    concurrency: 4,
  })
  const executor = new AwsBatchExecutor({
    image: "reductio-agent:bench",
    queue: "bench",
    scratch: `s3://${bucket}/scratch-${randomBytes(3).toString("hex")}`,
    endpoint: batch.endpoint,
    region: moto.region,
    credentials: moto.credentials,
    callsPerSecond: 200,
    burst: 50,
    baseBackoffMs: 20,
    maxDelayMs: 200,
    poll: { minIntervalMs: 50, maxIntervalMs: 250, callsPerSecond: 100 },
  })
  return {
    executor,
    stop: async () => {
      await executor.stop()
      await batch.stop()
    },
  }
}

/** Requests by operation, and per distinct object for the pipeline's data and the scratch. */
function summarize(requests: readonly S3Request[]) {
  const group = (filter: (r: S3Request) => boolean) => {
    const chosen = requests.filter((r) => r.key !== "" && filter(r))
    const perObject = countBy(chosen.filter((r) => !r.operation.startsWith("List")).map((r) => r.key))
    const counts = Object.values(perObject)
    const heads = countBy(chosen.filter((r) => r.operation === "HeadObject").map((r) => r.key))
    return {
      objects: counts.length,
      requests: chosen.length,
      // Listings included: the requests a run spends per object it touches.
      requestsPerObject: Number((chosen.length / Math.max(1, counts.length)).toFixed(2)),
      maxRequestsOnOneObject: Math.max(0, ...counts),
      headObject: chosen.filter((r) => r.operation === "HeadObject").length,
      maxHeadsOnOneObject: Math.max(0, ...Object.values(heads)),
      byOperation: countBy(chosen.map((r) => r.operation)),
    }
  }
  return {
    requests: requests.length,
    byOperation: countBy(requests.map((r) => r.operation)),
    data: group((r) => r.key.startsWith("seq/")),
    scratch: group((r) => !r.key.startsWith("seq/")),
  }
}
