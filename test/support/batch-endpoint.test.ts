import assert from "node:assert/strict"
import { existsSync } from "node:fs"
import { readFile, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import {
  BatchClient,
  DescribeJobDefinitionsCommand,
  DescribeJobsCommand,
  type JobDetail,
  ListJobsCommand,
  RegisterJobDefinitionCommand,
  SubmitJobCommand,
  TerminateJobCommand,
} from "@aws-sdk/client-batch"
import { tempDir } from "../agent/agent-harness.js"
import { type BatchEndpoint, startBatchEndpoint } from "./batch-endpoint.js"

// The "agent" here is a tiny script: it exits with the code its first argument names, after an
// optional sleep, and prints its array index.
const script = `
const [code, ms] = process.argv.slice(2)
if (process.env.SIGTERM_MARKER) {
  process.on("SIGTERM", () => {
    require("node:fs").writeFileSync(process.env.SIGTERM_MARKER, "SIGTERM")
    process.exit(143)
  })
  require("node:fs").writeFileSync(process.env.SIGTERM_MARKER + ".ready", "")
}
console.log("index", process.env.AWS_BATCH_JOB_ARRAY_INDEX, "attempt", process.env.AWS_BATCH_JOB_ATTEMPT)
setTimeout(() => process.exit(Number(process.env.EXIT_OVERRIDE ?? code)), Number(ms ?? 0))
`

describe("the test Batch endpoint", () => {
  let batch: BatchEndpoint
  let client: BatchClient

  before(async () => {
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true"
    const dir = await tempDir("reductio-batch-endpoint-")
    const agentPath = join(dir, "exit.js")
    await writeFile(agentPath, script)
    batch = await startBatchEndpoint({ agentPath, concurrency: 8 })
    client = new BatchClient({
      endpoint: batch.endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
      maxAttempts: 1,
    })
  })
  after(async () => {
    client.destroy()
    await batch.stop()
  })

  async function register(name: string, extra: Record<string, unknown> = {}): Promise<string> {
    const registered = await client.send(
      new RegisterJobDefinitionCommand({
        jobDefinitionName: name,
        type: "container",
        containerProperties: { image: "agent:latest", command: ["Ref::code", "Ref::ms"] },
        parameters: { code: "0", ms: "0" },
        ...extra,
      }),
    )
    return registered.jobDefinitionArn as string
  }

  async function waitFor(jobId: string, done = (job: JobDetail) => job.status === "SUCCEEDED" || job.status === "FAILED") {
    for (;;) {
      const { jobs } = await client.send(new DescribeJobsCommand({ jobs: [jobId] }))
      const job = jobs?.[0]
      if (job !== undefined && done(job)) return job
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }

  it("registers a new revision on each call and describes the active ones", async () => {
    await register("def-a")
    const second = await register("def-a")
    assert.match(second, /job-definition\/def-a:2$/)
    const { jobDefinitions } = await client.send(new DescribeJobDefinitionsCommand({ jobDefinitionName: "def-a", status: "ACTIVE" }))
    assert.equal(jobDefinitions?.length, 2)
  })

  it("accepts linuxParameters.initProcessEnabled and refuses it when it is not a boolean", async () => {
    await client.send(
      new RegisterJobDefinitionCommand({
        jobDefinitionName: "def-init",
        type: "container",
        containerProperties: { image: "agent:latest", linuxParameters: { initProcessEnabled: true } },
      }),
    )
    const { jobDefinitions } = await client.send(new DescribeJobDefinitionsCommand({ jobDefinitionName: "def-init" }))
    assert.deepEqual(jobDefinitions?.[0]?.containerProperties?.linuxParameters, { initProcessEnabled: true })
    const response = await fetch(`${batch.endpoint}/v1/registerjobdefinition`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        jobDefinitionName: "def-bad-init",
        type: "container",
        containerProperties: { image: "agent:latest", linuxParameters: { initProcessEnabled: "yes" } },
      }),
    })
    assert.equal(response.status, 400)
    assert.equal(response.headers.get("x-amzn-errortype"), "ClientException")
  })

  it("runs a single job with parameters substituted and maps its exit code", async () => {
    const definition = await register("def-single")
    const ok = await client.send(new SubmitJobCommand({ jobName: "ok", jobQueue: "q", jobDefinition: definition }))
    const bad = await client.send(
      new SubmitJobCommand({ jobName: "bad", jobQueue: "q", jobDefinition: "def-single", parameters: { code: "3" } }),
    )
    const succeeded = await waitFor(ok.jobId as string)
    assert.equal(succeeded.status, "SUCCEEDED")
    assert.equal(succeeded.container?.exitCode, 0)
    const failed = await waitFor(bad.jobId as string)
    assert.equal(failed.status, "FAILED")
    assert.equal(failed.container?.exitCode, 3)
    assert.equal(failed.statusReason, "Essential container in task exited")
  })

  it("runs array children with their index and computes the parent as AWS does", async () => {
    const definition = await register("def-array")
    batch.faults.kill = (spec) =>
      spec.index === 2 ? { reason: "OutOfMemoryError: Container killed due to memory usage", exitCode: 137 } : undefined
    const { jobId } = await client.send(
      new SubmitJobCommand({ jobName: "arr", jobQueue: "q", jobDefinition: definition, arrayProperties: { size: 5 } }),
    )
    const parent = await waitFor(jobId as string)
    batch.faults.kill = undefined
    assert.equal(parent.status, "FAILED")
    assert.equal(parent.arrayProperties?.statusSummary?.SUCCEEDED, 4)
    assert.equal(parent.arrayProperties?.statusSummary?.FAILED, 1)
    const children = await client.send(new ListJobsCommand({ arrayJobId: jobId, jobStatus: "SUCCEEDED", maxResults: 2 }))
    assert.equal(children.jobSummaryList?.length, 2)
    assert.ok(children.nextToken)
    const failed = await client.send(new ListJobsCommand({ arrayJobId: jobId, jobStatus: "FAILED" }))
    assert.equal(failed.jobSummaryList?.[0]?.jobId, `${jobId}:2`)
    assert.equal(failed.jobSummaryList?.[0]?.container?.exitCode, 137)
    const running = await client.send(new ListJobsCommand({ arrayJobId: jobId }))
    assert.equal(running.jobSummaryList?.length, 0, "ListJobs defaults to RUNNING")
    const child = batch.state.jobs.get(`${jobId}:3`)
    assert.match(child?.output ?? "", /index 3 attempt 1/)
  })

  it("kills an attempt that exceeds its timeout and retries per the retry strategy", async () => {
    const definition = await register("def-slow")
    const { jobId } = await client.send(
      new SubmitJobCommand({
        jobName: "slow",
        jobQueue: "q",
        jobDefinition: definition,
        parameters: { ms: "5000" },
        timeout: { attemptDurationSeconds: 1 },
        retryStrategy: { attempts: 2 },
      }),
    )
    const job = await waitFor(jobId as string)
    assert.equal(job.status, "FAILED")
    assert.equal(job.statusReason, "Job attempt duration exceeded timeout")
    assert.equal(job.attempts?.length, 2)
  })

  it("terminates a running array", async () => {
    const definition = await register("def-term")
    const { jobId } = await client.send(
      new SubmitJobCommand({
        jobName: "t",
        jobQueue: "q",
        jobDefinition: definition,
        parameters: { ms: "20000" },
        arrayProperties: { size: 3 },
      }),
    )
    await waitFor(`${jobId}:0`, (job) => job.status === "RUNNING")
    await client.send(new TerminateJobCommand({ jobId, reason: "cancelled by test" }))
    const parent = await waitFor(jobId as string)
    assert.equal(parent.status, "FAILED")
    const children = await client.send(new ListJobsCommand({ arrayJobId: jobId, jobStatus: "FAILED" }))
    assert.equal(children.jobSummaryList?.length, 3)
    assert.equal(children.jobSummaryList?.[0]?.statusReason, "cancelled by test")
  })

  it("stops a job on TerminateJob with SIGTERM first, as ECS does", async () => {
    const marker = join(await tempDir("reductio-batch-sigterm-"), "marker")
    const definition = await register("def-sigterm", {
      containerProperties: {
        image: "agent:latest",
        command: ["Ref::code", "Ref::ms"],
        environment: [{ name: "SIGTERM_MARKER", value: marker }],
      },
    })
    const { jobId } = await client.send(
      new SubmitJobCommand({ jobName: "t", jobQueue: "q", jobDefinition: definition, parameters: { ms: "20000" } }),
    )
    while (!existsSync(`${marker}.ready`)) await new Promise((resolve) => setTimeout(resolve, 20))
    await client.send(new TerminateJobCommand({ jobId, reason: "cancelled by test" }))
    const job = await waitFor(jobId as string)
    assert.equal(job.status, "FAILED")
    assert.equal(job.container?.exitCode, 143)
    assert.equal(await readFile(marker, "utf8"), "SIGTERM")
  })

  it("answers injected throttling and server errors as AWS does", async () => {
    batch.faults.throttle = 1
    await assert.rejects(
      client.send(new DescribeJobsCommand({ jobs: [] })),
      (error: Error & { $metadata?: { httpStatusCode?: number } }) => {
        assert.equal(error.name, "TooManyRequestsException")
        assert.equal(error.$metadata?.httpStatusCode, 429)
        return true
      },
    )
    batch.faults.serverErrors = 1
    await assert.rejects(client.send(new DescribeJobsCommand({ jobs: [] })), { name: "ServerException" })
    await assert.rejects(client.send(new DescribeJobsCommand({ jobs: Array.from({ length: 101 }, (_, i) => `j${i}`) })), {
      name: "ClientException",
    })
    assert.ok((batch.calls.DescribeJobs ?? 0) >= 3)
  })

  it("refuses the chosen actions during a timed brown-out from its first refused call, then answers again", async () => {
    batch.faults.outage = { ms: 300, kind: "unavailable", actions: ["DescribeJobs"] }
    try {
      const refusedBefore = batch.refused.DescribeJobs ?? 0
      await assert.rejects(
        client.send(new DescribeJobsCommand({ jobs: [] })),
        (error: Error & { $metadata?: { httpStatusCode?: number } }) => {
          assert.equal(error.$metadata?.httpStatusCode, 503)
          return true
        },
      )
      await client.send(new DescribeJobDefinitionsCommand({}))
      await new Promise((resolve) => setTimeout(resolve, 350))
      await client.send(new DescribeJobsCommand({ jobs: [] }))
      assert.equal((batch.refused.DescribeJobs ?? 0) - refusedBefore, 1)
    } finally {
      batch.faults.outage = undefined
    }
  })
})

describe("the test Batch endpoint with completions in batches", () => {
  it("shows the children that ended within one batch interval as ended together", async () => {
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true"
    const dir = await tempDir("reductio-batch-endpoint-")
    const agentPath = join(dir, "exit.js")
    await writeFile(agentPath, script)
    // Children that end at once, so all four end within one interval.
    const batch = await startBatchEndpoint({
      agentPath,
      concurrency: 8,
      completionBatchMs: 400,
      runner: () => ({ exit: Promise.resolve({ code: 0, output: "" }), kill: () => undefined }),
    })
    const client = new BatchClient({
      endpoint: batch.endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
      maxAttempts: 1,
    })
    try {
      const registered = await client.send(
        new RegisterJobDefinitionCommand({
          jobDefinitionName: "def-batched",
          type: "container",
          containerProperties: { image: "agent:latest", command: ["0", "0"] },
        }),
      )
      const { jobId } = await client.send(
        new SubmitJobCommand({ jobName: "arr", jobQueue: "q", jobDefinition: registered.jobDefinitionArn, arrayProperties: { size: 4 } }),
      )
      // Each round sees either none or all of the children ended, never some.
      const seen = new Set<number>()
      for (;;) {
        const { jobs } = await client.send(new DescribeJobsCommand({ jobs: [jobId as string] }))
        const succeeded = jobs?.[0]?.arrayProperties?.statusSummary?.SUCCEEDED ?? 0
        seen.add(succeeded)
        if (succeeded === 4) break
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      assert.deepEqual([...seen].sort(), [0, 4])
    } finally {
      client.destroy()
      await batch.stop()
    }
  })
})
