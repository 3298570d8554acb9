import assert from "node:assert/strict"
import { describe, it } from "node:test"
import {
  type Executor,
  isReductioError,
  isTaskError,
  type JobEvent,
  type JobOutcome,
  type JobRequest,
  MemoryBackend,
  Scheduler,
  script,
  task,
} from "reductio-workflow"

const square = task("test.record.square", (x: number) => x * x)
const squares = task("test.record.squares", (n: number) => Array.from({ length: n }, (_, i) => square(i)))
const boom = task("test.record.boom", (sample: string, reads: number[]) => {
  throw new Error(`no reads for ${sample} (${reads.length})`)
})
const align = task("test.record.align", (sample: string) => script(`echo "cannot open ${sample}.fq" >&2; exit 3`))
const count = task("test.record.count", (sample: string) => script(`exit 4 # ${sample}`, { name: "count-reads" }))

/** An executor that reports body times of its own (as a Batch container's start and stop would be). */
class ReportingExecutor implements Executor {
  readonly kind = "reporting"
  async submit(job: JobRequest): Promise<JobOutcome> {
    return { status: "done", value: (job.task.fn as (x: number) => number)(job.args[0] as number), startedAt: 1_000, endedAt: 2_500 }
  }
  async stop(): Promise<void> {}
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error("expected a rejection")
}

describe("a job's record", () => {
  it("keeps when the job was created, when its body started and ended, and when it ended; a cached job ran no body", async () => {
    const backend = new MemoryBackend()
    const scheduler = new Scheduler({ backend })
    await scheduler.run(squares(3))
    const [first] = await backend.listExecutions()
    for (const job of await backend.listJobs(first?.id ?? "")) {
      assert.ok(job.startedAt !== null && job.bodyEndedAt !== null && job.endedAt !== null, JSON.stringify(job))
      assert.ok(job.createdAt <= job.startedAt && job.startedAt <= job.bodyEndedAt && job.bodyEndedAt <= job.endedAt)
    }
    await scheduler.run(square(2))
    const [latest] = await backend.listExecutions({ limit: 1 })
    const [cached] = await backend.listJobs(latest?.id ?? "")
    assert.equal(cached?.status, "CACHED")
    assert.deepEqual([cached?.startedAt, cached?.bodyEndedAt], [null, null])
  })

  it("takes the body's times from the executor when it reports them", async () => {
    const backend = new MemoryBackend()
    await new Scheduler({ backend, executors: { local: new ReportingExecutor() } }).run(square(4))
    const [execution] = await backend.listExecutions()
    const [job] = await backend.listJobs(execution?.id ?? "")
    assert.deepEqual([job?.startedAt, job?.bodyEndedAt], [1_000, 2_500])
  })

  it("moves a parent whose body returned calls from RUNNING to WAITING while its children reduce", async () => {
    const scheduler = new Scheduler()
    const events: JobEvent[] = []
    scheduler.on((event) => {
      if (event.type === "job" && event.task === squares.taskName) events.push(event)
    })
    await scheduler.run(squares(2))
    assert.deepEqual(
      events.map((event) => event.status),
      ["PENDING", "RUNNING", "WAITING", "DONE"],
    )
  })

  it("records the execution's root call hash when its root is one call, and none for a value holding several", async () => {
    const backend = new MemoryBackend()
    const scheduler = new Scheduler({ backend })
    await scheduler.run(squares(2))
    const [one] = await backend.listExecutions()
    const [root] = await backend.findJobs({ executionId: one?.id ?? "", parentSeq: null })
    assert.ok(root?.callHash)
    assert.equal(one?.rootCallHash, root.callHash)
    await scheduler.run([square(1), square(2)])
    const [several] = await backend.listExecutions({ limit: 1 })
    assert.equal(several?.rootCallHash, null)
  })

  it("names a failed call with a preview of its arguments", async () => {
    const error = await rejection(new Scheduler().run(boom("s1", [1, 2, 3])))
    assert.ok(isTaskError(error))
    assert.equal(error.label, "task test.record.boom")
    assert.equal(error.argsPreview, '"s1", [1, 2, 3]')
    assert.match(error.message, /^task test\.record\.boom \(args "s1", \[1, 2, 3\]\) failed: Error: no reads for s1 \(3\)/)
  })

  it("names a failed script after the task that built it, or its name, with its command, exit code and stderr", async () => {
    const error = await rejection(new Scheduler().run(align("s7")))
    assert.ok(isTaskError(error) && isReductioError(error.cause, "SCRIPT_FAILED"))
    assert.equal(error.label, "script in task test.record.align")
    assert.equal(error.argsPreview, `"echo \\"cannot open s7.fq\\" >&2; exit 3"`)
    assert.equal(error.record.details?.exitCode, 3)
    assert.match(String(error.record.details?.stderrTail), /cannot open s7\.fq/)
    const named = await rejection(new Scheduler().run(count("s8")))
    assert.ok(isTaskError(named))
    assert.equal(named.label, "script count-reads in task test.record.count")
  })

  it("refuses a call name that is not a short single line of text", () => {
    assert.throws(
      () => square.options({ name: "x".repeat(201) }),
      (error) => isReductioError(error, "INVALID_ARGUMENT"),
    )
    assert.throws(
      () => script("true", { name: "two\nlines" }),
      (error) => isReductioError(error, "INVALID_ARGUMENT"),
    )
  })
})
