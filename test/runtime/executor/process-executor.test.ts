import assert from "node:assert/strict"
import { readdir } from "node:fs/promises"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import { encode } from "../../../runtime/codec.js"
import { isTaskError } from "../../../runtime/errors.js"
import type { JobOutcome, JobRequest } from "../../../runtime/executor/executor.js"
import { ProcessExecutor } from "../../../runtime/executor/process-executor.js"
import { argsHashOf, evalHashOf } from "../../../runtime/hashing.js"
import { MemoryBackend } from "../../../runtime/backend/memory-backend.js"
import { Scheduler } from "../../../runtime/scheduler/scheduler.js"
import { script } from "../../../runtime/script.js"
import type { Task } from "../../../runtime/task.js"
import { builtAgent, fixtureWorkflow, tempDir } from "../../agent/agent-harness.js"
import * as fixture from "../../fixtures/agent/workflow.js"

let sequence = 0

function request(t: Pick<Task, "definition">, args: unknown[], signal = new AbortController().signal): JobRequest {
  const encodedArgs = encode(args, "args")
  const argsHash = argsHashOf(encodedArgs)
  return {
    executionId: "exec-test",
    jobId: `exec-test/${++sequence}`,
    evalHash: evalHashOf(t.definition.hash, argsHash),
    argsHash,
    task: t.definition,
    args,
    encodedArgs,
    options: { ...t.definition.options },
    attempt: 1,
    signal,
  }
}

/** An outcome without the body's times (checked on their own). */
function withoutTimes(outcome: JobOutcome): JobOutcome {
  const { startedAt: _, endedAt: __, ...rest } = outcome
  return rest
}

function failed(outcome: JobOutcome) {
  assert.equal(outcome.status, "failed", JSON.stringify(outcome))
  return outcome as Extract<JobOutcome, { status: "failed" }>
}

describe("ProcessExecutor", () => {
  let root: string
  let executor: ProcessExecutor

  before(async () => {
    root = await tempDir("reductio-process-")
    executor = new ProcessExecutor({ scratch: root, agentPath: await builtAgent(), concurrency: 4, workdir: join(root, "..", "work") })
    await executor.start({ executionId: "exec-test", workflowPath: fixtureWorkflow, log: () => undefined })
  })
  after(() => executor.stop())

  it("bundles the workflow into <scratch>/code on start", async () => {
    const code = await readdir(join(root, "code"))
    assert.equal(code.length, 1)
    assert.match(code[0] as string, /^[0-9a-f]{64}\.tar\.gz$/)
  })

  it("runs a single call through jobs/<eval>/input", async () => {
    const job = request(fixture.add, [2, 3])
    const outcome = executor.submit(job)
    executor.idle()
    assert.deepEqual(withoutTimes(await outcome), { status: "done", value: 5 })
    assert.deepEqual((await readdir(join(root, "jobs", job.evalHash))).sort(), ["input", "log", "output"])
  })

  it("reports the agent process's spawn and exit as the body's start and end", async () => {
    const before = Date.now()
    const outcome = await executor.submit(request(fixture.add, [20, 22]))
    assert.equal(outcome.status, "done")
    const { startedAt, endedAt } = outcome
    assert.ok(startedAt !== undefined && endedAt !== undefined)
    assert.ok(before <= startedAt && startedAt < endedAt && endedAt <= Date.now(), `${before} ${startedAt} ${endedAt}`)
  })

  it("runs calls submitted before idle() from one shared array input", async () => {
    const before = await readdir(join(root, "arrays")).catch(() => [])
    const outcomes = [1, 2, 3, 4, 5].map((i) => executor.submit(request(fixture.add, [i, 10])))
    executor.idle()
    assert.deepEqual(
      (await Promise.all(outcomes)).map((o) => (o.status === "done" ? o.value : o)),
      [11, 12, 13, 14, 15],
    )
    const after = await readdir(join(root, "arrays"))
    assert.equal(after.length - before.length, 1)
  })

  it("starts submitted calls after a short delay even without idle()", async () => {
    assert.deepEqual(withoutTimes(await executor.submit(request(fixture.add, [40, 2]))), { status: "done", value: 42 })
  })

  it("returns the task's error record with the remote stack", async () => {
    const outcome = failed(await executor.submit(request(fixture.fail, ["remote boom"])))
    assert.equal(outcome.kind, "task")
    assert.equal(outcome.error.message, "remote boom")
    assert.match(outcome.error.stack ?? "", /workflow\.ts:\d+/)
  })

  it("reports an agent that dies as an infrastructure failure with the log tail", async () => {
    const outcome = failed(await executor.submit(request(fixture.exitHard, [9])))
    assert.equal(outcome.kind, "infrastructure")
    assert.equal(outcome.error.code, "INFRASTRUCTURE_FAILURE")
  })

  it("kills the agent and settles cancelled when the job is aborted", async () => {
    const controller = new AbortController()
    const started = Date.now()
    const outcome = executor.submit(request(fixture.sleep, [30_000], controller.signal))
    executor.idle()
    setTimeout(() => controller.abort(), 400)
    const settled = failed(await outcome)
    assert.equal(settled.kind, "cancelled")
    assert.equal(settled.error.code, "CANCELLED")
    assert.ok(Date.now() - started < 10_000)
  })

  it("settles an already aborted job as cancelled without running it", async () => {
    const controller = new AbortController()
    controller.abort()
    assert.equal(failed(await executor.submit(request(fixture.add, [0, 0], controller.signal))).kind, "cancelled")
  })

  it("runs the agent with a clean environment, as the image would", async () => {
    const saved = process.env.NODE_OPTIONS
    process.env.NODE_OPTIONS = "--no-warnings"
    try {
      const outcome = await executor.submit(request(fixture.environment, []))
      assert.deepEqual(withoutTimes(outcome), { status: "done", value: { nodeOptions: null, execArgv: [] } })
    } finally {
      if (saved === undefined) delete process.env.NODE_OPTIONS
      else process.env.NODE_OPTIONS = saved
    }
  })

  it("runs a call again rather than reusing a previous run's output", async () => {
    const job = request(fixture.mode, [])
    assert.deepEqual(withoutTimes(await executor.submit(job)), { status: "done", value: "agent" })
    assert.deepEqual(withoutTimes(await executor.submit(job)), { status: "done", value: "agent" })
  })

  it("keeps at most `concurrency` agents running", async () => {
    const limited = new ProcessExecutor({ scratch: root, agentPath: await builtAgent(), concurrency: 1, workdir: join(root, "..", "work") })
    await limited.start({ executionId: "exec-test", workflowPath: fixtureWorkflow, log: () => undefined })
    try {
      const started = Date.now()
      const outcomes = [300, 301, 302].map((ms) => limited.submit(request(fixture.sleep, [ms])))
      limited.idle()
      await Promise.all(outcomes)
      assert.ok(Date.now() - started >= 900, "three 300 ms calls one at a time")
    } finally {
      await limited.stop()
    }
  })

  it("fails every call with a clear error when it was never started with a workflow", async () => {
    const unstarted = new ProcessExecutor({ scratch: root })
    const outcome = failed(await unstarted.submit(request(fixture.add, [1, 1])))
    assert.equal(outcome.kind, "infrastructure")
    assert.equal(outcome.error.code, "INVALID_ARGUMENT")
  })
})

describe("ProcessExecutor with the scheduler", () => {
  it("reduces a workflow mixing local and process tasks, and caches the process calls", async () => {
    const root = await tempDir("reductio-process-e2e-")
    const backend = new MemoryBackend()
    const process = new ProcessExecutor({ scratch: root, agentPath: await builtAgent(), workdir: join(root, "..", "work") })
    const scheduler = new Scheduler({ backend, workflowPath: fixtureWorkflow, executors: { process } })
    try {
      assert.equal(await scheduler.run(fixture.sumOfSquares(6)), 0 + 1 + 4 + 9 + 16 + 25)
      const arrays = await readdir(join(root, "arrays"))
      assert.equal(arrays.length, 1, "the six process calls went out as one array")
      assert.equal(await scheduler.run(fixture.sumOfSquares(6)), 55)
      assert.equal((await readdir(join(root, "arrays"))).length, 1, "the second run replays from the cache")
    } finally {
      await process.stop()
    }
  })

  it("rejects with a TaskError carrying the remote stack when a process task throws", async () => {
    const root = await tempDir("reductio-process-error-")
    const process = new ProcessExecutor({ scratch: root, agentPath: await builtAgent(), workdir: join(root, "..", "work") })
    const scheduler = new Scheduler({ workflowPath: fixtureWorkflow, executors: { process } })
    try {
      await assert.rejects(scheduler.run(fixture.fail.options({ executor: "process" })("far away")), (error: unknown) => {
        assert.ok(isTaskError(error))
        assert.equal(error.code, "TASK_FAILED")
        assert.equal(error.record.message, "far away")
        assert.match(error.stack ?? "", /original stack[\s\S]*workflow\.ts:\d+/)
        return true
      })
    } finally {
      await process.stop()
    }
  })

  it("runs script() tasks in the agent", async () => {
    const root = await tempDir("reductio-process-script-")
    const process = new ProcessExecutor({ scratch: root, agentPath: await builtAgent(), workdir: join(root, "..", "work") })
    const scheduler = new Scheduler({ workflowPath: fixtureWorkflow, executors: { process } })
    try {
      const pid = await scheduler.run(script("echo $PPID", { executor: "process" }))
      assert.match(String(pid), /^\d+\n?$/)
      assert.notEqual(Number(pid), globalThis.process.pid)
    } finally {
      await process.stop()
    }
  })
})
