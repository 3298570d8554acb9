import assert from "node:assert/strict"
import { after, before, describe, it } from "node:test"
import { catchError, isReductioError, isTaskError, type JobEvent, MemoryBackend, Scheduler, task } from "reductio-workflow"
import { TaskError, toErrorRecord } from "../../runtime/errors.js"
import { ProcessExecutor } from "../../runtime/executor/process-executor.js"
import { handlerErrorOf } from "../../runtime/scheduler/builtin-values.js"
import { builtAgent, tempDir } from "../agent/agent-harness.js"
import { describeFailure, ParseError, parseStrict, ValidationError } from "../fixtures/higher-order/workflow.js"

const fixturePath = new URL("../fixtures/higher-order/workflow.ts", import.meta.url).pathname

let stackSerial = 0
const failsWithFreshStack = task("test.builtins.freshStack", (text: string) => {
  const error = new ParseError(`bad ${text}`)
  // Where a run starts and where code sits (paths, line numbers) show only in the stack.
  error.stack = `ParseError: bad ${text}\n    at /checkout-${++stackSerial}/workflow.ts:${stackSerial}:1`
  throw error
})
const handle = task("test.builtins.handle", (error: Error) => `handled ${error.name}: ${error.message} (${error.stack})`)

describe("catchError", () => {
  it("matches an error by its class or a superclass, not an unrelated class", async () => {
    const scheduler = new Scheduler()
    assert.equal(await scheduler.run(catchError(parseStrict("x"), -1, { classes: [ValidationError] })), -1)
    assert.equal(await scheduler.run(catchError(parseStrict("x"), -2, { classes: [ParseError] })), -2)
    await assert.rejects(scheduler.run(catchError(parseStrict("x"), 0, { classes: [TypeError] })), (error: unknown) => isTaskError(error))
    assert.throws(
      () => catchError(parseStrict("x"), 0, { classes: [(() => class extends Error {})()] }),
      (error: unknown) => isReductioError(error, "INVALID_ARGUMENT"),
    )
  })

  it("calls a partial handler with its bound arguments before the error", async () => {
    const value = await new Scheduler().run(catchError(parseStrict("y"), describeFailure.partial("parsing"), { classes: [ParseError] }))
    assert.equal(value, "parsing: ParseError: not a number: y")
  })

  it("gives the handler the error without its stack, so its cache key does not follow the stack", async () => {
    const backend = new MemoryBackend()
    const first = new Scheduler({ backend })
    assert.equal(await first.run(catchError(failsWithFreshStack("z"), handle)), "handled ParseError: bad z (ParseError: bad z)")
    const second = new Scheduler({ backend })
    const events: JobEvent[] = []
    second.on((event) => event.type === "job" && event.task === handle.taskName && events.push(event))
    assert.equal(await second.run(catchError(failsWithFreshStack("z"), handle)), "handled ParseError: bad z (ParseError: bad z)")
    assert.deepEqual(
      events.filter((e) => e.status === "DONE" || e.status === "CACHED").map((e) => e.status),
      ["CACHED"],
    )
  })
})

describe("the error a handler gets", () => {
  it("keeps name, message, code, details and class chain, not stacks or a log tail", () => {
    const failure = new TaskError("INFRASTRUCTURE_FAILURE", {
      task: "t",
      argsHash: "0".repeat(64),
      evalHash: "1".repeat(64),
      record: {
        name: "ParseError",
        message: "bad",
        stack: "ParseError: bad\n    at /somewhere/else.ts:1:1",
        code: "INVALID_ARGUMENT",
        details: { line: 3, logTail: "started at 12:00:01" },
        chain: ["ParseError", "Error"],
        cause: { name: "Error", message: "inner", stack: "Error: inner\n    at /x.ts:9:9" },
      },
    })
    const error = handlerErrorOf(failure) as Error & { code?: string; details?: unknown; cause?: Error }
    assert.equal(error.stack, "ParseError: bad")
    assert.equal(error.code, "INVALID_ARGUMENT")
    assert.deepEqual(error.details, { line: 3 })
    assert.equal(error.cause?.stack, "Error: inner")
    assert.deepEqual(toErrorRecord(error).chain, ["ParseError", "Error"])
  })
})

describe("catchError across the process boundary", () => {
  let scheduler: Scheduler

  before(async () => {
    const root = await tempDir("reductio-catch-process-")
    const executor = new ProcessExecutor({ scratch: root, agentPath: await builtAgent(), concurrency: 2 })
    scheduler = new Scheduler({ executors: { proc: executor }, workflowPath: fixturePath })
  })
  after(() => scheduler.stop())

  it("matches a superclass of an error thrown in the agent, by the recorded chain of class names", async () => {
    const remote = parseStrict.options({ executor: "proc" })
    const value = await scheduler.run(catchError(remote("q"), describeFailure.partial("remote"), { classes: [ValidationError] }))
    assert.equal(value, "remote: ParseError: not a number: q")
    await assert.rejects(scheduler.run(catchError(remote("q"), 0, { classes: [RangeError] })), (error: unknown) => {
      assert.ok(isTaskError(error))
      assert.deepEqual(error.record.chain, ["ParseError", "ValidationError", "Error"])
      return true
    })
  })
})
