import assert from "node:assert/strict"
import { after, before, describe, it } from "node:test"
import { isReductioError, isTask, type JobEvent, map, MemoryBackend, Scheduler, type Task, task } from "reductio-workflow"
import { decode, encode } from "../../runtime/codec.js"
import { ProcessExecutor } from "../../runtime/executor/process-executor.js"
import { expressionOf } from "../../runtime/expression.js"
import { argsHashOf } from "../../runtime/hashing.js"
import { builtAgent, tempDir } from "../agent/agent-harness.js"
import { applyTwice, double, makeScaler, pick, scale } from "../fixtures/higher-order/workflow.js"

const fixturePath = new URL("../fixtures/higher-order/workflow.ts", import.meta.url).pathname

function jobs(scheduler: Scheduler): JobEvent[] {
  const events: JobEvent[] = []
  scheduler.on((event) => event.type === "job" && events.push(event))
  return events
}

const finished = (events: JobEvent[], name: string) =>
  events.filter((e) => e.task === name && (e.status === "DONE" || e.status === "CACHED"))

describe("tasks as values", () => {
  it("passes a task to another task, which calls it; each call is recorded as a child", async () => {
    const scheduler = new Scheduler()
    const events = jobs(scheduler)
    assert.equal(await scheduler.run(applyTwice(double, 3)), 12)
    assert.equal(finished(events, "test.ho.double").length, 2)
    const parent = events.find((e) => e.task === "test.ho.applyTwice")
    assert.ok(parent !== undefined)
  })

  it("returns a task from a task, and stores tasks in objects and lists", async () => {
    const scheduler = new Scheduler()
    assert.equal(await scheduler.run(applyTwice(makeScaler(3), 2)), 18)
    assert.equal(await scheduler.run(pick({ double, triple: scale.partial(3) }, "triple", 5)), 15)
    const listed: Task<[number], number>[] = [double, scale.partial(10)]
    assert.deepEqual(await scheduler.run(listed.map((t) => t(1))), [2, 10])
  })

  it("encodes a task by its name and task hash, with bound arguments and call-site options", () => {
    const bytes = encode([scale.partial(2).options({ memory: 512 })], "args")
    const [decoded] = decode(bytes) as [Task<[number], number>]
    assert.ok(isTask(decoded))
    assert.equal(decoded.taskName, "test.ho.scale")
    assert.equal(decoded.definition, scale.definition)
    assert.deepEqual(expressionOf(decoded(7)), { kind: "call", task: "test.ho.scale", args: [2, 7], options: { memory: 512 } })
    assert.deepEqual(encode([decoded], "args"), bytes)
    // The task hash is part of the value: a different task (or an edit) is another argument.
    assert.notEqual(argsHashOf(encode([double], "args")), argsHashOf(encode([scale.partial(2)], "args")))
    assert.notEqual(argsHashOf(encode([scale.partial(2)], "args")), argsHashOf(encode([scale.partial(3)], "args")))
  })

  it("replays a call that took a task from the cache", async () => {
    const backend = new MemoryBackend()
    await new Scheduler({ backend }).run(applyTwice(scale.partial(5), 1))
    const scheduler = new Scheduler({ backend })
    const events = jobs(scheduler)
    assert.equal(await scheduler.run(applyTwice(scale.partial(5), 1)), 25)
    assert.deepEqual(
      events.filter((e) => e.status === "DONE" || e.status === "CACHED").map((e) => e.status),
      ["CACHED"],
    )
  })

  it("keeps a task value whose task is not registered here; calling it is TASK_NOT_FOUND when reduced", async () => {
    const encoded = encode({ stored: double }, "value")
    const text = Buffer.from(encoded).toString("latin1").replace("test.ho.double", "test.ho.doubl_")
    const { stored } = decode(Buffer.from(text, "latin1")) as { stored: Task<[number], number> }
    assert.ok(isTask(stored))
    assert.equal(stored.taskName, "test.ho.doubl_")
    await assert.rejects(new Scheduler().run(stored(1)), (error: unknown) => isReductioError(error, "TASK_NOT_FOUND"))
  })

  it("refuses a function that is not a task with UNENCODABLE_VALUE naming the path", () => {
    assert.throws(
      () => encode([{ f: (x: number) => x }], "args"),
      (error: unknown) => isReductioError(error, "UNENCODABLE_VALUE") && /args\[0\]\.f/.test((error as Error).message),
    )
  })
})

describe("partial", () => {
  it("binds leading arguments, also of a partial, and maps over the rest", async () => {
    const add3 = task("test.partial.add3", (a: number, b: number, c: number) => a * 100 + b * 10 + c)
    const scheduler = new Scheduler()
    assert.deepEqual(await scheduler.run(map(add3.partial(1, 2), [3, 4])), [123, 124])
    assert.equal(await scheduler.run(add3.partial(1).partial(2)(3)), 123)
    assert.deepEqual(await scheduler.run(map(scale.partial(double(5)), [1, 2])), [10, 20])
  })
})

describe("tasks as values across the process boundary", () => {
  let scheduler: Scheduler
  let executor: ProcessExecutor

  before(async () => {
    const root = await tempDir("reductio-ho-process-")
    executor = new ProcessExecutor({ scratch: root, agentPath: await builtAgent(), concurrency: 2 })
    scheduler = new Scheduler({ executors: { proc: executor }, workflowPath: fixturePath })
  })
  after(() => scheduler.stop())

  it("decodes a partial task in the agent, whose calls come back as children", async () => {
    const events = jobs(scheduler)
    const remote = applyTwice.options({ executor: "proc" })
    assert.equal(await scheduler.run(remote(scale.partial(3).options({ executor: "proc" }), 2)), 18)
    assert.equal(finished(events, "test.ho.scale").length, 2)
    assert.equal(await scheduler.run(remote(makeScaler.options({ executor: "proc" })(4), 1)), 16)
  })
})
