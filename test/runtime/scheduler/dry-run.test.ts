import assert from "node:assert/strict"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import { catchError, File, MemoryBackend, Scheduler, seq, task } from "reductio-workflow"

let bodies = 0
const leaf = task("test.dry.leaf", (x: number) => {
  bodies++
  return x * 10
})
const total = task("test.dry.total", (xs: number[]) => {
  bodies++
  return xs.reduce((a, b) => a + b, 0)
})
const main = task("test.dry.main", (n: number) => {
  bodies++
  return total(Array.from({ length: n }, (_, i) => leaf(i)))
})
const save = task("test.dry.save", async (path: string) => {
  bodies++
  const file = new File(path)
  await file.write("saved")
  return file
})
const noCache = task("test.dry.noCache", (x: number) => x, { cache: false })

describe("Scheduler.dryRun", () => {
  let dir: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "reductio-dry-"))
  })
  after(() => rm(dir, { recursive: true, force: true }))

  it("lists a call with nothing recorded for its task as one that would run, runs no body and writes nothing", async () => {
    const backend = new MemoryBackend()
    const before = bodies
    const plan = await new Scheduler({ backend }).dryRun(main(2))
    assert.equal(bodies, before)
    assert.deepEqual(
      plan.calls.map((call) => [call.status, call.task, call.reason, call.args]),
      [["run", "test.dry.main", "no-entry", [2]]],
    )
    assert.equal(plan.complete, false)
    assert.deepEqual(await backend.listExecutions(), [])
  })

  it("answers from the cache as far as it can and lists calls downstream of a call that would run as waiting on it", async () => {
    const backend = new MemoryBackend()
    const scheduler = new Scheduler({ backend })
    await scheduler.run(main(2))
    const before = bodies
    const cached = await scheduler.dryRun(main(2))
    assert.deepEqual(cached, { calls: [], cached: 4, complete: true, value: 10 })
    const plan = await scheduler.dryRun(total([leaf(0), leaf(5), leaf(6)]))
    assert.equal(bodies, before)
    assert.deepEqual(
      plan.calls.map((call) => [call.id, call.status, call.reason ?? null, call.args ?? null, call.waitsOn ?? null]),
      [
        [1, "run", "new-arguments", [5], null],
        [2, "run", "new-arguments", [6], null],
        [3, "waits", null, null, [1, 2]],
      ],
    )
    assert.equal(plan.cached, 1, "leaf(0)")
  })

  it("names an edited task: recorded under its name with another task hash", async () => {
    const backend = new MemoryBackend()
    const edited = { hash: "a".repeat(64), name: leaf.taskName, source: "(x) => x", version: null }
    await backend.write({ tasks: [edited] })
    const plan = await new Scheduler({ backend }).dryRun(leaf(1))
    assert.equal(plan.calls[0]?.reason, "edited-task")
    assert.match(plan.calls[0]?.detail ?? "", /differs from aaaaaaaaaaaa recorded for test\.dry\.leaf/)
  })

  it("names a File in the cached result that changed since it was recorded", async () => {
    const backend = new MemoryBackend()
    const scheduler = new Scheduler({ backend })
    const path = join(dir, "saved.txt")
    await scheduler.run(save(path))
    await rm(path)
    const plan = await scheduler.dryRun(save(path))
    assert.equal(plan.calls[0]?.reason, "invalid-file")
    assert.match(plan.calls[0]?.detail ?? "", new RegExp(path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
  })

  it("says the cache is off for --no-cache and for tasks with cache: false", async () => {
    const backend = new MemoryBackend()
    await new Scheduler({ backend }).run(leaf(1))
    const off = await new Scheduler({ backend, cache: false }).dryRun(leaf(1))
    assert.deepEqual(
      off.calls.map((call) => [call.reason, call.detail]),
      [["cache-off", "--no-cache"]],
    )
    const task = await new Scheduler({ backend }).dryRun(noCache(1))
    assert.equal(task.calls[0]?.reason, "cache-off")
  })

  it("goes on past a would-run item of seq and never lets catchError swallow a call that would run", async () => {
    const backend = new MemoryBackend()
    const plan = await new Scheduler({ backend }).dryRun(seq([leaf(1), catchError(leaf(2), 0)]))
    assert.deepEqual(
      plan.calls.map((call) => [call.status, call.args]),
      [
        ["run", [1]],
        ["run", [2]],
      ],
    )
  })
})
