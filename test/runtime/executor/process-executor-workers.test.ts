import assert from "node:assert/strict"
import { spawnSync } from "node:child_process"
import { readFile, readdir, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { describe, it } from "node:test"
import { MemoryBackend } from "../../../runtime/backend/memory-backend.js"
import { encode } from "../../../runtime/codec.js"
import type { CallOptions } from "../../../runtime/expression.js"
import type { JobOutcome, JobRequest } from "../../../runtime/executor/executor.js"
import { ProcessExecutor } from "../../../runtime/executor/process-executor.js"
import { argsHashOf, evalHashOf } from "../../../runtime/hashing.js"
import { scratch } from "../../../runtime/protocol.js"
import { Scheduler } from "../../../runtime/scheduler/scheduler.js"
import type { Task } from "../../../runtime/task.js"
import { builtAgent, fixtureWorkflow, tempDir } from "../../agent/agent-harness.js"
import * as fixture from "../../fixtures/agent/workflow.js"

let sequence = 0

function request(
  t: Pick<Task, "definition">,
  args: unknown[],
  options: CallOptions = {},
  signal = new AbortController().signal,
): JobRequest {
  const encodedArgs = encode(args, "args")
  const argsHash = argsHashOf(encodedArgs)
  return {
    executionId: "exec-workers",
    jobId: `exec-workers/${++sequence}`,
    evalHash: evalHashOf(t.definition.hash, argsHash),
    argsHash,
    task: t.definition,
    args,
    encodedArgs,
    options: { ...t.definition.options, ...options },
    attempt: 1,
    signal,
  }
}

function doneValue(outcome: JobOutcome): unknown {
  assert.equal(outcome.status, "done", JSON.stringify(outcome))
  return (outcome as Extract<JobOutcome, { status: "done" }>).value
}

function failed(outcome: JobOutcome) {
  assert.equal(outcome.status, "failed", JSON.stringify(outcome))
  return outcome as Extract<JobOutcome, { status: "failed" }>
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function started(options: { reuse?: boolean; concurrency?: number } = {}) {
  const root = await tempDir("reductio-workers-")
  const executor = new ProcessExecutor({ scratch: root, agentPath: await builtAgent(), workdir: join(root, "..", "work"), ...options })
  await executor.start({ executionId: "exec-workers", workflowPath: fixtureWorkflow, log: () => undefined })
  return { root, executor }
}

describe("ProcessExecutor reusable workers", () => {
  it("runs one call after another in the same worker process", async () => {
    const { executor } = await started({ concurrency: 1 })
    try {
      const first = doneValue(await executor.submit(request(fixture.pid, [])))
      const second = doneValue(await executor.submit(request(fixture.pid, [])))
      assert.equal(typeof first, "number")
      assert.equal(second, first)
      assert.notEqual(first, process.pid)
    } finally {
      await executor.stop()
    }
  })

  it("replaces a worker that crashes mid-job, failing that job as infrastructure", async () => {
    const { executor } = await started({ concurrency: 1 })
    try {
      const before = doneValue(await executor.submit(request(fixture.pid, []))) as number
      const crashed = failed(await executor.submit(request(fixture.exitHard, [9])))
      assert.equal(crashed.kind, "infrastructure")
      assert.equal(crashed.error.code, "INFRASTRUCTURE_FAILURE")
      assert.match(crashed.error.message, /exited with code 9/)
      assert.equal(isRunning(before), false)
      const after = doneValue(await executor.submit(request(fixture.pid, [])))
      assert.notEqual(after, before)
    } finally {
      await executor.stop()
    }
  })

  it("kills the worker when its job is cancelled and runs the next call on a new one", async () => {
    const { executor } = await started({ concurrency: 1 })
    try {
      const before = doneValue(await executor.submit(request(fixture.pid, []))) as number
      const controller = new AbortController()
      const outcome = executor.submit(request(fixture.sleep, [30_000], {}, controller.signal))
      setTimeout(() => controller.abort(), 300)
      const cancelled = failed(await outcome)
      assert.equal(cancelled.kind, "cancelled")
      assert.equal(cancelled.error.code, "CANCELLED")
      assert.equal(isRunning(before), false)
      const after = doneValue(await executor.submit(request(fixture.pid, [])))
      assert.notEqual(after, before)
    } finally {
      await executor.stop()
    }
  })

  it("gives a call with freshProcess: true its own agent process", async () => {
    const { executor } = await started({ concurrency: 1 })
    try {
      const worker = doneValue(await executor.submit(request(fixture.pid, [])))
      const fresh = [
        doneValue(await executor.submit(request(fixture.pid, [], { freshProcess: true }))),
        doneValue(await executor.submit(request(fixture.pid, [], { freshProcess: true }))),
      ]
      assert.equal(new Set([worker, ...fresh]).size, 3)
      assert.equal(doneValue(await executor.submit(request(fixture.pid, []))), worker, "the worker is still there for other calls")
    } finally {
      await executor.stop()
    }
  })

  it("starts a fresh agent process per call with reuse: false", async () => {
    const { executor } = await started({ concurrency: 1, reuse: false })
    try {
      const first = doneValue(await executor.submit(request(fixture.pid, [])))
      const second = doneValue(await executor.submit(request(fixture.pid, [])))
      assert.notEqual(first, second)
    } finally {
      await executor.stop()
    }
  })

  it("leaves no worker running after stop()", async () => {
    const { executor } = await started({ concurrency: 2 })
    const pids = (await Promise.all([executor.submit(request(fixture.pid, [])), executor.submit(request(fixture.pid, [1]))])).map(doneValue)
    assert.ok(pids.every((pid) => typeof pid === "number" && isRunning(pid)))
    await executor.stop()
    assert.ok(pids.every((pid) => !isRunning(pid as number)))
  })

  it("lets the host exit while its workers are idle, even without stop()", async () => {
    const root = await tempDir("reductio-workers-exit-")
    const host = join(root, "host.mts")
    const here = (path: string) => JSON.stringify(new URL(path, import.meta.url).pathname)
    await writeFile(
      host,
      [
        `import { ProcessExecutor } from ${here("../../../runtime/executor/process-executor.ts")}`,
        `import { encode } from ${here("../../../runtime/codec.ts")}`,
        `import { argsHashOf, evalHashOf } from ${here("../../../runtime/hashing.ts")}`,
        `import * as fixture from ${here("../../fixtures/agent/workflow.ts")}`,
        `const executor = new ProcessExecutor({ scratch: ${JSON.stringify(join(root, "scratch"))}, agentPath: ${JSON.stringify(await builtAgent())}, concurrency: 1 })`,
        `await executor.start({ executionId: "exit", workflowPath: ${JSON.stringify(fixtureWorkflow)}, log: () => undefined })`,
        "const encodedArgs = encode([], 'args')",
        "const argsHash = argsHashOf(encodedArgs)",
        "const job = { executionId: 'exit', jobId: 'exit/1', evalHash: evalHashOf(fixture.pid.definition.hash, argsHash), argsHash, task: fixture.pid.definition, args: [], encodedArgs, options: {}, attempt: 1, signal: new AbortController().signal }",
        "const outcome = await executor.submit(job)",
        "console.log(JSON.stringify(outcome.status === 'done' ? outcome.value : outcome))",
        "",
      ].join("\n"),
    )
    const run = spawnSync(process.execPath, ["--conditions=reductio-source", "--import", "tsx", host], {
      encoding: "utf8",
      timeout: 60_000,
    })
    assert.equal(run.status, 0, run.stderr)
    const workerPid = Number(run.stdout.trim().split("\n").at(-1))
    assert.ok(Number.isInteger(workerPid) && workerPid > 0, run.stdout)
    for (let i = 0; i < 50 && isRunning(workerPid); i++) await new Promise((resolve) => setTimeout(resolve, 100))
    assert.equal(isRunning(workerPid), false, "the idle worker exits once its host is gone")
  })

  it("fails a task whose promise never settles, as a fresh agent does, and keeps the worker", async () => {
    const { executor } = await started({ concurrency: 1 })
    try {
      const before = doneValue(await executor.submit(request(fixture.pid, [])))
      const outcome = failed(await executor.submit(request(fixture.neverSettles, [])))
      assert.equal(outcome.kind, "task")
      assert.match(outcome.error.message, /never settled/)
      assert.equal(doneValue(await executor.submit(request(fixture.pid, []))), before)
    } finally {
      await executor.stop()
    }
  })

  it("fails the job and drops a worker that replies out of protocol", async () => {
    const { root } = await started()
    const liar = join(root, "liar-agent.mjs")
    await writeFile(
      liar,
      'import { writeSync } from "node:fs"\nprocess.stdin.once("data", () => writeSync(3, \'{"id":99,"exit":0}\\n\'))\nsetInterval(() => {}, 1000)\n',
    )
    const executor = new ProcessExecutor({ scratch: root, agentPath: liar, workdir: join(root, "..", "work"), concurrency: 1 })
    await executor.start({ executionId: "exec-workers", workflowPath: fixtureWorkflow, log: () => undefined })
    try {
      const outcome = failed(await executor.submit(request(fixture.pid, [])))
      assert.equal(outcome.kind, "infrastructure")
      assert.match(outcome.error.message, /AGENT_REQUEST_INVALID.*job 99/)
    } finally {
      await executor.stop()
    }
  })

  it("gives the same results, files and cache with reuse on and off", async () => {
    const runs: { result: unknown; replay: unknown; arrays: number; outputs: Record<string, string> }[] = []
    for (const reuse of [true, false]) {
      const root = await tempDir("reductio-workers-e2e-")
      const process = new ProcessExecutor({ scratch: root, agentPath: await builtAgent(), workdir: join(root, "..", "work"), reuse })
      const scheduler = new Scheduler({ backend: new MemoryBackend(), workflowPath: fixtureWorkflow, executors: { process } })
      try {
        const result = await scheduler.run(fixture.sumOfSquares(5))
        const replay = await scheduler.run(fixture.sumOfSquares(5))
        const outputs: Record<string, string> = {}
        for (const evalHash of (await readdir(join(root, "jobs"))).sort()) {
          outputs[evalHash] = (await readFile(scratch.output(root, evalHash))).toString("base64")
        }
        runs.push({ result, replay, arrays: (await readdir(join(root, "arrays"))).length, outputs })
      } finally {
        await process.stop()
      }
    }
    assert.equal(runs[0]?.result, 0 + 1 + 4 + 9 + 16)
    assert.deepEqual(runs[0], runs[1])
    assert.equal(runs[0]?.arrays, 1, "the second run replays from the cache")
    assert.equal(Object.keys(runs[0]?.outputs ?? {}).length, 5)
  })
})
