import assert from "node:assert/strict"
import { describe, it } from "node:test"
import {
  compose,
  cond,
  constant,
  delay,
  evaluate,
  flatMap,
  force,
  isReductioError,
  type JobEvent,
  type Lazy,
  MemoryBackend,
  Scheduler,
  starmap,
  task,
  zip,
} from "reductio-workflow"

const runs = new Map<string, number>()
const counted = (name: string) => runs.set(name, (runs.get(name) ?? 0) + 1)

const add = task("test.fn.add", (a: number, b: number) => a + b)
const double = task("test.fn.double", (x: number) => x * 2)
const words = task("test.fn.words", (text: string) => text.split(" "))
const length = task("test.fn.length", (text: string) => text.length)
const expensive = task("test.fn.expensive", (x: number) => {
  counted("expensive")
  return x * 100
})
const listOf = task("test.fn.listOf", (n: number) => Array.from({ length: n }, (_, i) => i))
const makeDelayed = task("test.fn.makeDelayed", (x: number) => delay(expensive(x)))
const sideEffect = task("test.fn.sideEffect", (label: string) => {
  counted(`effect:${label}`)
  return label
})

function finished(scheduler: Scheduler): JobEvent[] {
  const events: JobEvent[] = []
  scheduler.on((event) => event.type === "job" && (event.status === "DONE" || event.status === "CACHED") && events.push(event))
  return events
}

describe("functools", () => {
  it("starmap calls a task once per argument list, also of a lazy list", async () => {
    const sums: Lazy<number[]> = starmap(add, [
      [1, 2],
      [3, 4],
    ])
    assert.deepEqual(await new Scheduler().run(sums), [3, 7])
    assert.deepEqual(await new Scheduler().run(starmap(add, zip(listOf(3), [10, 20, 30]))), [10, 21, 32])
    await assert.rejects(new Scheduler().run(starmap(add, [5 as never])), (error: unknown) => isReductioError(error, "INVALID_ARGUMENT"))
  })

  it("flatMap concatenates the lists a task returns", async () => {
    const all: Lazy<string[]> = flatMap(words, ["a b", "c"])
    assert.deepEqual(await new Scheduler().run(all), ["a", "b", "c"])
  })

  it("zip pairs items by position, as long as the shortest list", async () => {
    const pairs: Lazy<[number, string][]> = zip(listOf(3), ["x", "y"])
    assert.deepEqual(await new Scheduler().run(pairs), [
      [0, "x"],
      [1, "y"],
    ])
  })

  it("compose applies the last task first and records each call", async () => {
    const scheduler = new Scheduler()
    const events = finished(scheduler)
    const lengthTwice = compose(double, length)
    const value: Lazy<number> = lengthTwice("four")
    assert.equal(await scheduler.run(value), 8)
    assert.deepEqual(events.map((e) => e.task).sort(), ["reductio.compose", "test.fn.double", "test.fn.length"])
    assert.equal(await new Scheduler().run(compose(double, double, length)("abc")), 12)
    assert.deepEqual(await new Scheduler().run(starmap(compose(double, add), [[1, 2]])), [6])
  })

  it("delay keeps a lazy value from being reduced until force, also through a task", async () => {
    runs.clear()
    const delayed = delay(expensive(1))
    assert.equal(await new Scheduler().run(cond(false, force(delayed), "skipped")), "skipped")
    assert.equal(runs.get("expensive"), undefined)
    assert.equal(await new Scheduler().run(force(delayed)), 100)
    assert.equal(runs.get("expensive"), 1)
    // A delayed value returned by a task is forced lazily.
    assert.equal(await new Scheduler().run(force(makeDelayed(2))), 200)
  })

  it("constant is its first value once the others have been reduced", async () => {
    runs.clear()
    const value: Lazy<number> = constant(double(2), sideEffect("a"), sideEffect("b"))
    assert.equal(await new Scheduler().run(value), 4)
    assert.equal(runs.get("effect:a"), 1)
    assert.equal(runs.get("effect:b"), 1)
  })

  it("evaluate reduces a value holding lazies", async () => {
    const both: Lazy<{ left: number; right: number[] }> = evaluate({ left: double(1), right: [double(2), 5] })
    assert.deepEqual(await new Scheduler().run(both), { left: 2, right: [4, 5] })
  })

  it("caches the calls they make like any other", async () => {
    runs.clear()
    const backend = new MemoryBackend()
    await new Scheduler({ backend }).run(force(makeDelayed(3)))
    assert.equal(await new Scheduler({ backend }).run(force(makeDelayed(3))), 300)
    assert.equal(runs.get("expensive"), 1)
  })
})
