import assert from "node:assert/strict"
import { after, before, describe, it } from "node:test"
import { getContext, isReductioError, isTaskError, type JobEvent, MemoryBackend, Scheduler, task } from "reductio-workflow"
import { checkedTaskContext, contextKeysOf, contextValue, runWithContext, setContextValue } from "../../runtime/context.js"
import { ProcessExecutor } from "../../runtime/executor/process-executor.js"
import { builtAgent, tempDir } from "../agent/agent-harness.js"
import { readsThreads } from "../fixtures/higher-order/workflow.js"

const fixturePath = new URL("../fixtures/higher-order/workflow.ts", import.meta.url).pathname
const bodies = new Map<string, number>()
const ran = (name: string) => bodies.set(name, (bodies.get(name) ?? 0) + 1)

const align = task("test.ctx.align", (sample: string) => {
  ran("align")
  return `${sample} with ${getContext("bwa.threads", 1)} threads and ${getContext<string>("bwa.mode") ?? "default"} mode`
})
const middle = task("test.ctx.middle", (sample: string) => {
  ran("middle")
  return align(sample)
})
const top = task("test.ctx.top", (samples: string[]) => {
  ran("top")
  return samples.map((sample) => middle(sample))
})
function threadsFromHelper(): number {
  return getContext("helper.threads", 2)
}
const viaHelper = task("test.ctx.viaHelper", () => threadsFromHelper(), { context: ["helper.threads"] })
const undeclared = task("test.ctx.undeclared", () => threadsFromHelper())

function doneAndCached(scheduler: Scheduler): JobEvent[] {
  const events: JobEvent[] = []
  scheduler.on((event) => event.type === "job" && (event.status === "DONE" || event.status === "CACHED") && events.push(event))
  return events
}

const statusOf = (events: JobEvent[], name: string) => events.filter((e) => e.task === name).map((e) => e.status)

describe("context", () => {
  it("gives a task body the values of the keys it reads, with fallbacks", async () => {
    assert.equal(await new Scheduler({ context: { bwa: { threads: 8 } } }).run(align("s1")), "s1 with 8 threads and default mode")
    assert.equal(await new Scheduler().run(align("s1")), "s1 with 1 threads and default mode")
  })

  it("reruns only the calls that read a changed key; a task passing the value on stays cached", async () => {
    const backend = new MemoryBackend()
    bodies.clear()
    await new Scheduler({ backend, context: { bwa: { threads: 2 }, other: 1 } }).run(top(["a", "b"]))
    assert.deepEqual(Object.fromEntries(bodies), { top: 1, middle: 2, align: 2 })

    // An unrelated key changes: nothing reruns (the recorded tree is reused whole).
    bodies.clear()
    const unrelated = new Scheduler({ backend, context: { bwa: { threads: 2 }, other: 2 } })
    const unrelatedEvents = doneAndCached(unrelated)
    await unrelated.run(top(["a", "b"]))
    assert.deepEqual(Object.fromEntries(bodies), {})
    assert.deepEqual(statusOf(unrelatedEvents, "test.ctx.top"), ["CACHED"])

    // A key align reads changes: align reruns, middle and top are cached.
    bodies.clear()
    const changed = new Scheduler({ backend, context: { bwa: { threads: 16 }, other: 2 } })
    const events = doneAndCached(changed)
    assert.deepEqual(await changed.run(top(["a", "b"])), ["a with 16 threads and default mode", "b with 16 threads and default mode"])
    assert.deepEqual(Object.fromEntries(bodies), { align: 2 })
    assert.deepEqual(statusOf(events, "test.ctx.top"), ["CACHED"])
    assert.deepEqual(statusOf(events, "test.ctx.middle"), ["CACHED", "CACHED"])
    assert.deepEqual(statusOf(events, "test.ctx.align"), ["DONE", "DONE"])

    // Back to the first value: its recorded results are found again.
    bodies.clear()
    await new Scheduler({ backend, context: { bwa: { threads: 2 } } }).run(top(["a", "b"]))
    assert.deepEqual(Object.fromEntries(bodies), {})
  })

  it("lets a task declare keys its helpers read, and refuses a read of an undeclared key", async () => {
    assert.equal(await new Scheduler({ context: { helper: { threads: 5 } } }).run(viaHelper()), 5)
    await assert.rejects(new Scheduler({ context: { helper: { threads: 5 } } }).run(undeclared()), (error: unknown) => {
      assert.ok(isTaskError(error))
      assert.equal(error.record.code, "INVALID_ARGUMENT")
      return true
    })
    assert.throws(
      () => getContext("bwa.threads", 1),
      (error: unknown) => isReductioError(error, "INVALID_ARGUMENT"),
    )
  })

  it("finds the keys a task reads in its source and its option, and reads dotted paths", () => {
    assert.deepEqual(contextKeysOf(align.definition), ["bwa.mode", "bwa.threads"])
    assert.deepEqual(contextKeysOf(viaHelper.definition), ["helper.threads"])
    assert.deepEqual(contextKeysOf(middle.definition), [])
    const context: Record<string, unknown> = { a: { b: 1 } }
    setContextValue(context, "a.c.d", "x")
    assert.deepEqual(context, { a: { b: 1, c: { d: "x" } } })
    assert.equal(contextValue(context, "a.c.d"), "x")
    assert.equal(contextValue(context, "a.b.c"), undefined)
    assert.throws(
      () => setContextValue(context, "__proto__.polluted", 1),
      (error: unknown) => isReductioError(error, "INVALID_ARGUMENT"),
    )
    assert.equal(
      runWithContext({ task: "t", keys: ["k"], values: { k: 3 } }, () => getContext("k", 0)),
      3,
    )
    for (const hostile of [
      null,
      "keys",
      { task: "t", keys: "k", values: {} },
      { task: "t", keys: [1], values: {} },
      { task: "t", keys: [], values: [] },
    ]) {
      assert.throws(
        () => checkedTaskContext(hostile),
        (error: unknown) => isReductioError(error, "INVALID_ARGUMENT"),
      )
    }
    assert.equal(checkedTaskContext(undefined), undefined)
  })
})

describe("context across the process boundary", () => {
  let scheduler: Scheduler
  before(async () => {
    const root = await tempDir("reductio-context-process-")
    const executor = new ProcessExecutor({ scratch: root, agentPath: await builtAgent(), concurrency: 2 })
    scheduler = new Scheduler({ executors: { proc: executor }, workflowPath: fixturePath, context: { bwa: { threads: 12 } } })
  })
  after(() => scheduler.stop())

  it("ships the values a task reads in its job entry", async () => {
    assert.equal(await scheduler.run(readsThreads.options({ executor: "proc" })("s")), "s:12")
  })
})
