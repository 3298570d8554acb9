import assert from "node:assert/strict"
import { describe, it } from "node:test"
import {
  catchError,
  cond,
  flatten,
  isReductioError,
  isTaskError,
  type JobEvent,
  type Lazy,
  map,
  MemoryBackend,
  type SchedulerEvent,
  Scheduler,
  seq,
  task,
  throwError,
} from "reductio-workflow"
import { encode } from "../../runtime/codec.js"
import { argsHashOf, evalHashOf, sha256, valueHashOf } from "../../runtime/hashing.js"

let calls = 0
const inc = task("test.sched.inc", (x: number) => {
  calls++
  return x + 1
})
const add = task("test.sched.add", (a: number, b: number) => a + b)
/** inc(x), asked for after `ms`. */
const later = task("test.sched.later", async (x: number, ms: number) => {
  await new Promise((resolve) => setTimeout(resolve, ms))
  return inc(x)
})
const laterUncached = task("test.sched.laterUncached", async (x: number, ms: number) => {
  await new Promise((resolve) => setTimeout(resolve, ms))
  return inc.options({ cache: false })(x)
})
const fib = task("test.sched.fib", (n: number): number | Lazy<number> => (n < 2 ? n : add(fib(n - 1), fib(n - 2))))
const countdown = task("test.sched.countdown", (n: number): string | Lazy<string> => (n === 0 ? "liftoff" : countdown(n - 1)))
const record = task("test.sched.record", (x: number) => ({ id: x, tags: [`t${x}`], nested: { double: x * 2 } }))
const fail = task("test.sched.fail", (message: string) => {
  const error = new Error(message) as Error & { code: string }
  error.code = "BAD_INPUT"
  throw error
})
const describeError = task("test.sched.describeError", (error: Error) => `recovered: ${error.message}`)
const splitWords = task("test.sched.split", (text: string) => text.split(" "))
const upper = task("test.sched.upper", (word: string) => word.toUpperCase())

function jobEvents(scheduler: Scheduler): JobEvent[] {
  const events: JobEvent[] = []
  scheduler.on((event: SchedulerEvent) => {
    if (event.type === "job") events.push(event)
  })
  return events
}

const finalStatuses = (events: JobEvent[]) =>
  events.filter((e) => e.status === "DONE" || e.status === "CACHED" || e.status === "FAILED").map((e) => e.status)

describe("Scheduler", () => {
  it("reduces nested calls to a typed value", async () => {
    const value: number = await new Scheduler().run(inc(inc(1)))
    assert.equal(value, 3)
  })

  it("reduces lazies inside arrays, objects, Maps and Sets", async () => {
    const value = await new Scheduler().run({ list: [inc(1), 5], map: new Map([["k", inc(2)]]), set: new Set([inc(3)]) })
    assert.deepEqual(value, { list: [2, 5], map: new Map([["k", 3]]), set: new Set([4]) })
  })

  it("keeps property and index access lazy and typed", async () => {
    const r = record(4)
    const value: [number, string, number] = (await new Scheduler().run([r.id, r.tags[0], inc(r.nested.double)] as const)) as [
      number,
      string,
      number,
    ]
    assert.deepEqual(value, [4, "t4", 9])
  })

  it("runs recursion and data-dependent fan-out", async () => {
    assert.equal(await new Scheduler().run(fib(15)), 610)
    assert.deepEqual(await new Scheduler().run(map(upper, splitWords("graph reduction works"))), ["GRAPH", "REDUCTION", "WORKS"])
  })

  it("recurses 10,000 deep without overflowing the stack", async () => {
    assert.equal(await new Scheduler().run(countdown(10_000)), "liftoff")
  })

  it("reduces a chain 10,000 deep where each call consumes the previous result", async () => {
    let x: ReturnType<typeof inc> | number = 0
    for (let i = 0; i < 10_000; i++) x = inc(x)
    assert.equal(await new Scheduler().run(x as ReturnType<typeof inc>), 10_000)
  })

  it("replays a cached call without running the task", async () => {
    const backend = new MemoryBackend()
    await new Scheduler({ backend }).run(inc(100))
    const before = calls
    const scheduler = new Scheduler({ backend })
    const events = jobEvents(scheduler)
    assert.equal(await scheduler.run(inc(100)), 101)
    assert.equal(calls, before)
    assert.deepEqual(finalStatuses(events), ["CACHED"])
  })

  it("reads back a cached result whose bytes only look as if they named calls", async () => {
    const backend = new MemoryBackend()
    let runs = 0
    // The bytes of CBOR's head of the expression tag, as a value: no call is named.
    const tagBytes = task("test.sched.tagBytes", () => {
      runs++
      return new Uint8Array([0xd9, 0x9c, 0xb8])
    })
    await new Scheduler({ backend }).run(tagBytes())
    const scheduler = new Scheduler({ backend })
    const events = jobEvents(scheduler)
    const reused: SchedulerEvent[] = []
    scheduler.on((event) => event.type === "reused-calls" && reused.push(event))
    assert.deepEqual([...((await scheduler.run(tagBytes())) as Uint8Array)], [0xd9, 0x9c, 0xb8])
    assert.equal(runs, 1)
    assert.deepEqual(finalStatuses(events), ["CACHED"])
    assert.deepEqual(reused, [])
  })

  it("replays a cached result whose graph shares one call between parents", async () => {
    const backend = new MemoryBackend()
    const shared = task("test.sched.shared", (n: number) => {
      const t = inc(n)
      return [add(t, inc(t)), { t, u: inc(t) }]
    })
    const first = await new Scheduler({ backend }).run(shared(2))
    assert.deepEqual(first, [7, { t: 3, u: 4 }])
    assert.deepEqual(await new Scheduler({ backend }).run(shared(2)), first)
  })

  it("reuses a cached call's whole recorded tree: one job, no task body, the calls below reported", async () => {
    const backend = new MemoryBackend()
    const fanout = task("test.sched.replayFanout", (n: number) => Array.from({ length: n }, (_, i) => add(inc(i), inc(i + 1))))
    const first = await new Scheduler({ backend }).run(fanout(50))
    const before = calls
    const scheduler = new Scheduler({ backend })
    const events = jobEvents(scheduler)
    const reused: SchedulerEvent[] = []
    scheduler.on((event) => event.type === "reused-calls" && reused.push(event))
    assert.deepEqual(await scheduler.run(fanout(50)), first)
    assert.equal(calls, before)
    assert.deepEqual(finalStatuses(events), ["CACHED"])
    // 51 distinct inc calls (i and i + 1 overlap) and 50 adds.
    assert.deepEqual(
      reused.map((event) => event.type === "reused-calls" && event.calls),
      [{ "test.sched.inc": 51, "test.sched.add": 50 }],
    )
    const [execution] = await backend.listExecutions({ limit: 1 })
    const jobs = await backend.listJobs(execution?.id ?? "")
    assert.deepEqual(
      jobs.map((job) => [job.status, job.reusedCalls]),
      [["CACHED", 101]],
    )
  })

  it("still runs a cache: false task below a cached parent on every run", async () => {
    const backend = new MemoryBackend()
    let volatileRuns = 0
    const volatile = task("test.sched.volatile", (x: number) => ++volatileRuns + x * 0, { cache: false })
    const parent = task("test.sched.volatileParent", (x: number) => [inc(x), volatile(x)])
    const callSite = task("test.sched.callSiteNoCache", (x: number) => add(inc.options({ cache: false })(x), 1))
    await new Scheduler({ backend }).run([parent(400), callSite(401)])
    const before = calls
    const scheduler = new Scheduler({ backend })
    const events = jobEvents(scheduler)
    assert.deepEqual(await scheduler.run([parent(400), callSite(401)]), [[401, 2], 403])
    assert.equal(volatileRuns, 2)
    assert.equal(calls, before + 1)
    assert.deepEqual(
      events.filter((e) => e.previous === undefined).map((e) => e.task),
      [
        "test.sched.volatileParent",
        "test.sched.callSiteNoCache",
        "test.sched.inc",
        "test.sched.volatile",
        "test.sched.inc",
        "test.sched.add",
      ],
    )
  })

  it("tries a failed call again on a rerun, even below a cached parent that recovered from it", async () => {
    const backend = new MemoryBackend()
    let attempts = 0
    const flaky = task("test.sched.failsOnce", (x: number) => {
      if (++attempts === 1) throw new Error("first attempt fails")
      return x
    })
    const guarded = task("test.sched.guarded", (x: number) => catchError(flaky(x), -1))
    assert.equal(await new Scheduler({ backend }).run(guarded(7)), -1)
    assert.equal(await new Scheduler({ backend }).run(guarded(7)), 7)
    assert.equal(attempts, 2)
    // Recovered without a failure this time: the tree is reused whole from now on.
    assert.equal(await new Scheduler({ backend }).run(guarded(7)), 7)
    assert.equal(attempts, 2)
  })

  it("does not replay a tree whose calls were since recorded with other results (the latest cache entry wins)", async () => {
    const backend = new MemoryBackend()
    let feed = 1
    const fetchFeed = task("test.sched.fetchFeed", () => feed)
    const double = task("test.sched.double", (x: number) => x * 2)
    const report = task("test.sched.report", () => double(fetchFeed()))
    assert.equal(await new Scheduler({ backend }).run(report()), 2)
    feed = 5
    // fetchFeed runs again on its own and its new result replaces its cache entry.
    assert.equal(await new Scheduler({ backend, cache: false }).run(fetchFeed()), 5)
    assert.equal(await new Scheduler({ backend }).run(report()), 10)
  })

  it("does not replay a tree holding a call that this execution already reduced", async () => {
    const backend = new MemoryBackend()
    let feed = 1
    const fetchFeed = task("test.sched.fetchLatest", () => feed)
    const refresh = task("test.sched.refresh", () => fetchFeed.options({ cache: false })())
    const report = task("test.sched.reportLatest", () => add(fetchFeed(), 0))
    assert.equal(await new Scheduler({ backend }).run(report()), 1)
    feed = 5
    // Identical calls in one run share one result: report sees the value refresh just fetched.
    assert.deepEqual(await new Scheduler({ backend }).run(seq([refresh(), report()])), [5, 5])
  })

  it("gives a later identical call the value a replay reused, even with cache: false", async () => {
    const backend = new MemoryBackend()
    let feed = 1
    const fetchFeed = task("test.sched.fetchShared", () => feed)
    const refresh = task("test.sched.refreshAfter", () => fetchFeed.options({ cache: false })())
    const report = task("test.sched.reportFirst", () => add(fetchFeed(), 0))
    assert.equal(await new Scheduler({ backend }).run(report()), 1)
    feed = 5
    assert.deepEqual(await new Scheduler({ backend }).run(seq([report(), refresh()])), [1, 1])
  })

  it("replays a tree holding a call this execution already reduced to the same recorded call", async () => {
    const backend = new MemoryBackend()
    const config = task("test.sched.config", () => 10)
    const part = task("test.sched.part", (i: number) => add(config(), i))
    await new Scheduler({ backend }).run([config(), part(1), part(2)])
    const scheduler = new Scheduler({ backend })
    const reused: string[] = []
    scheduler.on((event) => event.type === "reused-calls" && reused.push(event.task))
    assert.deepEqual(await scheduler.run(seq([config(), part(1), part(2)])), [10, 11, 12])
    assert.deepEqual(reused, ["test.sched.part", "test.sched.part"])
  })

  it("still replays the subtrees that hold when another subtree under the same parent does not", async () => {
    const backend = new MemoryBackend()
    const small = task("test.sched.smallLeaf", () => 1)
    const smallTree = task("test.sched.smallTree", () => add(small(), 0))
    const bigTree = task("test.sched.bigTree", (n: number) => Array.from({ length: n }, (_, i) => add(i, 1)))
    const both = task("test.sched.both", () => [bigTree(20), smallTree()])
    await new Scheduler({ backend }).run(both())
    // The small leaf's cache entry now names another call: the small subtree no longer holds.
    const smallEval = evalHashOf(small.definition.hash, argsHashOf(encode([], "args")))
    await backend.write({ evaluations: [{ evalHash: smallEval, valueHash: valueHashOf(encode(1)), callHash: sha256("elsewhere") }] })
    const scheduler = new Scheduler({ backend })
    const reused: string[] = []
    scheduler.on((event) => event.type === "reused-calls" && reused.push(event.task))
    assert.equal((await scheduler.run(both()))[1], 1)
    assert.deepEqual(reused, ["test.sched.bigTree"])
  })

  it("does not wait on a running identical call when the tree already fails a check (no deadlock)", { timeout: 10_000 }, async () => {
    const backend = new MemoryBackend()
    const mode = { p: 1, x: 1 }
    const tasks: { top?: () => Lazy<number> } = {}
    const bottom = task("test.sched.cycleBottom", (): number | Lazy<number> => (mode.x === 1 ? 1 : (tasks.top as () => Lazy<number>)()))
    const middle = task("test.sched.cycleMiddle", (): number | Lazy<number> => (mode.p === 1 ? bottom() : 2))
    const top = task("test.sched.cycleTop", (): Lazy<number> => middle())
    tasks.top = top
    const middleFresh = task("test.sched.cycleMiddleFresh", () => middle.options({ cache: false })())
    const bottomFresh = task("test.sched.cycleBottomFresh", () => bottom.options({ cache: false })())
    assert.equal(await new Scheduler({ backend }).run(top()), 1)
    mode.p = 2
    assert.equal(await new Scheduler({ backend }).run(middleFresh()), 2)
    mode.x = 2
    // top's recorded tree holds bottom, now running and waiting on top; middle's entry changed.
    assert.equal(await new Scheduler({ backend }).run(bottomFresh()), 2)
  })

  it("runs a call-site cache: false call on every run, even when it shared an identical call's result", async () => {
    const backend = new MemoryBackend()
    let middleRuns = 0
    const leafOne = task("test.sched.sharedLeaf", (x: number) => x)
    const middle = task("test.sched.sharedMiddle", () => {
      middleRuns++
      return add(leafOne(1), 0)
    })
    const viaCache = task("test.sched.viaCache", () => middle())
    const fresh = task("test.sched.fresh", () => middle.options({ cache: false })())
    await new Scheduler({ backend }).run(viaCache())
    await new Scheduler({ backend }).run(seq([viaCache(), fresh()]))
    middleRuns = 0
    await new Scheduler({ backend }).run(fresh())
    await new Scheduler({ backend }).run(fresh())
    assert.equal(middleRuns, 2)
  })

  it("sees options given to a task registered again, for its next execution", async () => {
    const backend = new MemoryBackend()
    let leafRuns = 0
    const body = (x: number) => {
      leafRuns++
      return x
    }
    let reoptioned = task("test.sched.reoptioned", body)
    const parent = task("test.sched.reoptionedParent", (x: number) => add(reoptioned(x), 1))
    await new Scheduler({ backend }).run(parent(1))
    await new Scheduler({ backend }).run(parent(1))
    assert.equal(leafRuns, 1, "the second run replays")
    // Same name, same source: the same task, now with cache: false.
    reoptioned = task("test.sched.reoptioned", body, { cache: false })
    await new Scheduler({ backend }).run(parent(1))
    assert.equal(leafRuns, 2)
  })

  it("asks for a call tree once when it does not hold, not again at every level below", async () => {
    let trees = 0
    const backend = new (class extends MemoryBackend {
      override loadCallTree(callHash: string) {
        trees++
        return super.loadCallTree(callHash)
      }
    })()
    const leaf = task("test.sched.chainLeaf", () => 0)
    const down = task("test.sched.chainDown", (n: number): number | Lazy<number> => (n === 0 ? leaf() : add(down(n - 1), 1)))
    assert.equal(await new Scheduler({ backend }).run(down(50)), 50)
    // The leaf's cache entry now names another call: the tree under every level no longer holds.
    const leafEval = evalHashOf(leaf.definition.hash, argsHashOf(encode([], "args")))
    await backend.write({ evaluations: [{ evalHash: leafEval, valueHash: valueHashOf(encode(0)), callHash: sha256("elsewhere") }] })
    trees = 0
    assert.equal(await new Scheduler({ backend }).run(down(50)), 50)
    assert.equal(trees, 1)
  })

  it("runs every call again with cache: false", async () => {
    const backend = new MemoryBackend()
    await new Scheduler({ backend }).run(inc(200))
    const before = calls
    await new Scheduler({ backend, cache: false }).run(inc(200))
    assert.equal(calls, before + 1)
  })

  it("runs two identical calls in one run once", async () => {
    const before = calls
    const scheduler = new Scheduler()
    const events = jobEvents(scheduler)
    assert.deepEqual(await scheduler.run([inc(300), inc(300)]), [301, 301])
    assert.equal(calls, before + 1)
    assert.equal(finalStatuses(events).length, 1)
  })

  it("answers an identical call from the cache once the first one's rows are written, not from memory", async () => {
    const backend = new MemoryBackend()
    const before = calls
    const scheduler = new Scheduler({ backend })
    const events = jobEvents(scheduler)
    // The second inc(400) comes after the first call's batch went out (every 200 ms).
    assert.deepEqual(await scheduler.run([inc(400), later(400, 700)]), [401, 401])
    assert.equal(calls, before + 1)
    const statuses = finalStatuses(events)
    assert.deepEqual([...statuses].sort(), ["CACHED", "DONE", "DONE"])
  })

  it("runs an identical cache: false call once per run, however late it comes", async () => {
    const backend = new MemoryBackend()
    const before = calls
    const uncached = inc.options({ cache: false })
    assert.deepEqual(await new Scheduler({ backend }).run([uncached(410), laterUncached(410, 700)]), [411, 411])
    assert.equal(calls, before + 1)
  })

  it("reduces only the branch cond picks", async () => {
    const before = calls
    assert.equal(await new Scheduler().run(cond(inc(-1), inc(1000), inc(2000))), 2001)
    assert.equal(calls, before + 2)
  })

  it("reduces seq items in order and flattens lists", async () => {
    assert.deepEqual(await new Scheduler().run(seq([inc(1), inc(2)])), [2, 3])
    assert.deepEqual(await new Scheduler().run(flatten([[1], [inc(1), 3]])), [1, 2, 3])
  })

  it("fails with a TaskError naming the task and args hash, keeping the original stack", async () => {
    await assert.rejects(new Scheduler().run(inc(fail("boom"))), (error: unknown) => {
      assert.ok(isTaskError(error))
      assert.equal(error.code, "TASK_FAILED")
      assert.equal(error.task, "test.sched.fail")
      assert.match(error.argsHash, /^[0-9a-f]{64}$/)
      assert.equal(error.record.code, "BAD_INPUT")
      assert.match(error.record.stack ?? "", /scheduler\.test\.ts/)
      return true
    })
  })

  it("recovers with catchError, filtered by code or name", async () => {
    assert.equal(await new Scheduler().run(catchError(fail("x"), -1, { codes: ["BAD_INPUT"] })), -1)
    assert.equal(await new Scheduler().run(catchError(fail("y"), describeError)), "recovered: y")
    assert.equal(await new Scheduler().run(catchError(throwError("nope", "NOPE"), 0, { names: ["WorkflowError"] })), 0)
    await assert.rejects(new Scheduler().run(catchError(fail("z"), 0, { codes: ["OTHER"] })), (error: unknown) => isTaskError(error))
  })

  it("raises throwError with its code", async () => {
    await assert.rejects(
      new Scheduler().run(throwError("invalid input", "INVALID_INPUT")),
      (error: unknown) => (error as { code?: string }).code === "INVALID_INPUT",
    )
  })

  it("names the path of an argument the codec cannot encode", async () => {
    const connect = task("test.sched.connect", (_label: string, _options: unknown) => 1)
    await assert.rejects(new Scheduler().run(connect("db", { conn: new (class Connection {})() })), (error: unknown) => {
      assert.ok(isReductioError(error, "UNENCODABLE_VALUE"))
      assert.equal(error.details?.path, "args[1].conn")
      return true
    })
  })

  it("fails a task whose result cannot be encoded", async () => {
    const leaky = task("test.sched.leaky", () => ({ callback: () => 1 }))
    await assert.rejects(new Scheduler().run(leaky()), (error: unknown) => isReductioError(error, "UNENCODABLE_VALUE"))
  })

  it("reports an unknown task name listing the known ones", async () => {
    const { toLazy, makeExpression } = await import("../../runtime/expression.js")
    const call = toLazy(makeExpression({ kind: "call", task: "test.sched.missing", args: [] }))
    await assert.rejects(new Scheduler().run(call), (error: unknown) => isReductioError(error, "TASK_NOT_FOUND"))
  })

  it("retries a failing task as its options say", async () => {
    let attempts = 0
    const flaky = task("test.sched.flaky", (x: number) => {
      attempts++
      if (attempts < 3) throw new Error("transient")
      return x
    })
    assert.equal(await new Scheduler().run(flaky.options({ retries: 2 })(7)), 7)
    assert.equal(attempts, 3)
  })

  it("holds named concurrency limits", async () => {
    let running = 0
    let peak = 0
    const slow = task(
      "test.sched.slow",
      async (x: number) => {
        running++
        peak = Math.max(peak, running)
        await new Promise((resolve) => setTimeout(resolve, 5))
        running--
        return x
      },
      { limits: ["db"] },
    )
    await new Scheduler({ limits: { db: 2 } }).run(Array.from({ length: 10 }, (_, i) => slow(i)))
    assert.equal(peak, 2)
    await assert.rejects(new Scheduler().run(slow(99)), (error: unknown) => isReductioError(error, "CONFIG_INVALID"))
  })

  it("records executions, jobs and the call graph in the backend", async () => {
    const backend = new MemoryBackend()
    const scheduler = new Scheduler({ backend })
    await scheduler.run(fib(5), { command: "test fib" })
    const [execution] = await backend.listExecutions()
    assert.equal(execution?.status, "DONE")
    assert.equal(execution?.command, "test fib")
    const jobs = await backend.listJobs(execution?.id ?? "")
    assert.ok(jobs.length > 5)
    assert.ok(jobs.every((job) => job.status === "DONE" && job.callHash !== null))
    const root = jobs[0]
    assert.equal(root?.parentSeq, null)
    const call = await backend.getCall(root?.callHash ?? "")
    assert.ok((call?.children.length ?? 0) > 0)
  })

  it("cancels pending work when the signal aborts", async () => {
    const controller = new AbortController()
    const wait = task("test.sched.wait", async (ms: number) => new Promise((resolve) => setTimeout(() => resolve(ms), ms)), {
      limits: ["one"],
    })
    const running = new Scheduler({ limits: { one: 1 } }).run([wait(30), wait(31), wait(32)], { signal: controller.signal })
    setTimeout(() => controller.abort(), 5)
    await assert.rejects(running, (error: unknown) => isReductioError(error, "CANCELLED"))
  })
})
