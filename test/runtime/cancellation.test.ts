/**
 * Cancelling a run from the embedding API (an AbortController): running in-process task bodies get
 * the abort signal through currentSignal(), a script() is ended, and the run ends CANCELLED.
 */
import assert from "node:assert/strict"
import { mkdtemp, readFile, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import { MemoryBackend } from "../../runtime/backend/memory-backend.js"
import { isReductioError } from "../../runtime/errors.js"
import { Scheduler } from "../../runtime/scheduler/scheduler.js"
import { script } from "../../runtime/script.js"
import { task } from "../../runtime/task.js"
import { currentSignal } from "../../runtime/task-context.js"

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Resolves once `check` holds (polled). */
async function until(check: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

const seen: { aborted: boolean | undefined; started: number } = { aborted: undefined, started: 0 }

/** Ignores the abort and finishes normally, noting whether its signal fired meanwhile. */
const stubborn = task("test.cancel.stubborn", async (ms: number) => {
  const signal = currentSignal()
  seen.started++
  await sleep(ms)
  seen.aborted = signal.aborted
  return ms
})

/** Stops as soon as its signal aborts. */
const obedient = task("test.cancel.obedient", async (ms: number) => {
  const signal = currentSignal()
  seen.started++
  await new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms)
    signal.addEventListener("abort", () => {
      clearTimeout(timer)
      reject(signal.reason)
    })
  })
  return ms
})

const late = task("test.cancel.late", async () => {
  await null
  return currentSignal().aborted
})

describe("cancelling a run through its AbortSignal", () => {
  let dir: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "reductio-cancel-"))
  })
  after(() => rm(dir, { recursive: true, force: true }))

  it("hands a running task body the abort signal, and ends CANCELLED even when the body then finishes normally", async () => {
    seen.started = 0
    const backend = new MemoryBackend()
    const scheduler = new Scheduler({ backend })
    const controller = new AbortController()
    const running = scheduler.run(stubborn(150), { signal: controller.signal })
    await until(() => seen.started === 1, "the task to start")
    controller.abort()
    await assert.rejects(running, (error: unknown) => isReductioError(error, "CANCELLED"))
    assert.equal(seen.aborted, true)
    const [execution] = await backend.listExecutions()
    assert.equal(execution?.status, "CANCELLED")
    // The body finished: its result is recorded and cached for the next run.
    assert.deepEqual(
      (await backend.listJobs(execution?.id ?? "")).map((job) => job.status),
      ["DONE"],
    )
  })

  it("settles a body that stops on the signal as CANCELLED, not FAILED", async () => {
    seen.started = 0
    const backend = new MemoryBackend()
    const controller = new AbortController()
    const running = new Scheduler({ backend }).run([obedient(5_000), obedient(5_001)], { signal: controller.signal })
    await until(() => seen.started === 2, "both tasks to start")
    const cancelledAt = Date.now()
    controller.abort()
    await assert.rejects(running, (error: unknown) => isReductioError(error, "CANCELLED"))
    assert.ok(Date.now() - cancelledAt < 1_000)
    const [execution] = await backend.listExecutions()
    assert.equal(execution?.status, "CANCELLED")
    assert.deepEqual(
      (await backend.listJobs(execution?.id ?? "")).map((job) => job.status),
      ["CANCELLED", "CANCELLED"],
    )
  })

  it("ends a running script() and its child processes, as CANCELLED", async () => {
    const pidFile = join(dir, "sleep.pid")
    const backend = new MemoryBackend()
    const controller = new AbortController()
    const running = new Scheduler({ backend }).run(script(`sleep 30 & echo $! > ${pidFile}; wait`), { signal: controller.signal })
    await until(async () => (await readFile(pidFile, "utf8").catch(() => "")).trim() !== "", "the script to start")
    const sleepPid = Number((await readFile(pidFile, "utf8")).trim())
    const cancelledAt = Date.now()
    controller.abort()
    await assert.rejects(running, (error: unknown) => isReductioError(error, "CANCELLED"))
    assert.ok(Date.now() - cancelledAt < 5_000)
    const [execution] = await backend.listExecutions()
    assert.equal(execution?.status, "CANCELLED")
    const [job] = await backend.listJobs(execution?.id ?? "")
    assert.equal(job?.status, "CANCELLED")
    assert.equal(JSON.parse(job?.error ?? "{}").code, "CANCELLED")
    await until(() => !alive(sleepPid), "the script's child to end")
  })

  it("refuses currentSignal() after a body's first await, and outside any task body", async () => {
    await assert.rejects(new Scheduler().run(late()), (error: unknown) => {
      assert.ok(isReductioError(error, "TASK_FAILED"))
      assert.ok(isReductioError(error.cause, "INVALID_ARGUMENT"))
      return true
    })
    assert.throws(
      () => currentSignal(),
      (error: unknown) => isReductioError(error, "INVALID_ARGUMENT"),
    )
  })
})

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}
