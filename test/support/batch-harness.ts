/**
 * @module batch-harness
 * What an AWS Batch executor test needs: moto (S3 for scratch), the built agent, the test Batch
 * endpoint running it against moto, a bucket, and executors pointed at all of that with short
 * polling intervals.
 *
 * @example
 * const harness = await startBatchHarness()
 * const executor = harness.executor()
 */
import { randomBytes } from "node:crypto"
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3"
import { AwsBatchExecutor, type AwsBatchExecutorOptions } from "../../runtime/executor/aws-batch-executor.js"
import { configureS3 } from "../../runtime/storage/storage-registry.js"
import { builtAgent } from "../agent/agent-harness.js"
import { type BatchEndpoint, type BatchEndpointOptions, startBatchEndpoint } from "./batch-endpoint.js"
import { type Moto, startMoto } from "./moto.js"
import { resolveSecret } from "./moto-secrets.js"

/** A running moto + Batch endpoint pair. */
export interface BatchHarness {
  readonly moto: Moto
  readonly batch: BatchEndpoint
  readonly bucket: string
  /** `s3://<bucket>/<prefix>`: a fresh scratch root per call. */
  scratch(prefix?: string): string
  /** An executor against the endpoint, with test-friendly polling. */
  executor(options?: Partial<AwsBatchExecutorOptions>): AwsBatchExecutor
  stop(): Promise<void>
}

/** Starts everything, or returns why the tests must skip (moto missing outside CI). */
export async function startBatchHarness(
  endpointOptions: Partial<BatchEndpointOptions> = {},
): Promise<BatchHarness | { readonly skip: string; stop(): Promise<void> }> {
  const moto = await startMoto()
  if (moto.skip !== false) return moto
  configureS3({ endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials, forcePathStyle: true })
  const bucket = `batch-${randomBytes(6).toString("hex")}`
  const s3 = new S3Client({ endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials, forcePathStyle: true })
  await s3.send(new CreateBucketCommand({ Bucket: bucket }))
  s3.destroy()
  const batch = await startBatchEndpoint({
    agentPath: await builtAgent(),
    env: moto.env,
    concurrency: 16,
    resolveSecret: (valueFrom) => resolveSecret(moto, valueFrom),
    ...endpointOptions,
  })
  let scratchCount = 0
  const executors: AwsBatchExecutor[] = []
  return {
    moto,
    batch,
    bucket,
    scratch: (prefix = `run${++scratchCount}`) => `s3://${bucket}/${prefix}`,
    executor(options = {}) {
      const executor = new AwsBatchExecutor({
        image: "reductio-agent:test",
        queue: "test-queue",
        scratch: `s3://${bucket}/scratch`,
        endpoint: batch.endpoint,
        region: moto.region,
        credentials: moto.credentials,
        callsPerSecond: 200,
        burst: 50,
        baseBackoffMs: 20,
        maxDelayMs: 500,
        poll: { minIntervalMs: 50, maxIntervalMs: 250, callsPerSecond: 100 },
        ...options,
      })
      executors.push(executor)
      return executor
    },
    async stop() {
      await Promise.all(executors.map((executor) => executor.stop()))
      await batch.stop()
      await moto.stop()
    },
  }
}
