import assert from "node:assert/strict"
import { mkdtemp, readFile, rm, unlink, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, beforeEach, describe, it } from "node:test"
import { MemoryBackend } from "../../runtime/backend/memory-backend.js"
import { File } from "../../runtime/file.js"
import { Scheduler } from "../../runtime/scheduler/scheduler.js"
import { script } from "../../runtime/script.js"
import { task } from "../../runtime/task.js"

const runs = { produce: 0, measure: 0 }

const produce = task("fileWorkflow.produce", async (dir: string, text: string) => {
  runs.produce++
  const out = new File(join(dir, "out.txt"))
  await out.write(text)
  return out
})

const measure = task("fileWorkflow.measure", async (file: File) => {
  runs.measure++
  return (await file.read()).length
})

describe("Files in workflows (scheduler end to end)", () => {
  let dir: string
  let backend: MemoryBackend
  const runOnce = <T>(expression: Parameters<Scheduler["run"]>[0]) => new Scheduler({ backend }).run(expression) as Promise<T>

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "reductio-file-workflow-"))
    backend = new MemoryBackend()
    runs.produce = 0
    runs.measure = 0
  })
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it("replays a task that returned a File while the file is unchanged", async () => {
    const first = await runOnce<File>(produce(dir, "hello"))
    const second = await runOnce<File>(produce(dir, "hello"))
    assert.equal(runs.produce, 1)
    assert.equal(second.path, first.path)
    assert.equal(second.hash, first.hash)
  })

  it("reruns the producing task when its output was rewritten", async () => {
    await runOnce(produce(dir, "hello"))
    await writeFile(join(dir, "out.txt"), "tampered with, longer")
    const again = await runOnce<File>(produce(dir, "hello"))
    assert.equal(runs.produce, 2)
    assert.equal(await again.read(), "hello")
  })

  it("reruns the producing task when its output was deleted", async () => {
    await runOnce(produce(dir, "hello"))
    await unlink(join(dir, "out.txt"))
    await runOnce(produce(dir, "hello"))
    assert.equal(runs.produce, 2)
    assert.equal(await readFile(join(dir, "out.txt"), "utf8"), "hello")
  })

  it("reuses a cached parent's whole tree while the Files in it are unchanged", async () => {
    const pipeline = task("fileWorkflow.pipeline", (into: string, text: string) => measure(produce(into, text)))
    assert.equal(await runOnce(pipeline(dir, "hello")), 5)
    const scheduler = new Scheduler({ backend })
    const reused: unknown[] = []
    scheduler.on((event) => event.type === "reused-calls" && reused.push(event.calls))
    assert.equal(await scheduler.run(pipeline(dir, "hello")), 5)
    assert.deepEqual(runs, { produce: 1, measure: 1 })
    assert.deepEqual(reused, [{ "fileWorkflow.produce": 1, "fileWorkflow.measure": 1 }])
  })

  it("checks a File that a body built and passed to a child call before reusing the tree", async () => {
    const input = join(dir, "input.txt")
    await writeFile(input, "a\nb\n")
    const countLines = task("fileWorkflow.countLines", async (file: File) => (await file.read()).split("\n").filter(Boolean).length)
    const load = task("fileWorkflow.load", (path: string) => countLines(new File(path)))
    const report = task("fileWorkflow.report", (path: string) => ({ lines: load(path) }))
    assert.deepEqual(await runOnce(report(input)), { lines: 2 })
    assert.deepEqual(await runOnce(report(input)), { lines: 2 })
    await writeFile(input, "a\nb\nc\nd\n")
    assert.deepEqual(await runOnce(report(input)), { lines: 4 })
  })

  it("checks a File that a cached result holds beside its calls before reusing the tree", async () => {
    const input = join(dir, "kept.txt")
    await writeFile(input, "abc")
    let bodies = 0
    const one = task("fileWorkflow.one", () => 1)
    const keep = task("fileWorkflow.keep", (path: string) => {
      bodies++
      return { file: new File(path), one: one() }
    })
    assert.equal((await runOnce<{ one: number }>(keep(input))).one, 1)
    assert.equal((await runOnce<{ one: number }>(keep(input))).one, 1)
    assert.equal(bodies, 1)
    await writeFile(input, "abcdef")
    const again = await runOnce<{ file: File; one: number }>(keep(input))
    assert.equal(bodies, 2)
    assert.equal(await again.file.read(), "abcdef")
  })

  it("reruns a producer below a cached parent when its output was deleted", async () => {
    const pipeline = task("fileWorkflow.pipeline2", (into: string, text: string) => measure(produce(into, text)))
    assert.equal(await runOnce(pipeline(dir, "hello")), 5)
    await unlink(join(dir, "out.txt"))
    // The File inside the recorded tree no longer holds: the tree is not reused, the producer runs.
    assert.equal(await runOnce(pipeline(dir, "hello")), 5)
    assert.equal(runs.produce, 2)
    assert.equal(await readFile(join(dir, "out.txt"), "utf8"), "hello")
  })

  it("reruns a consumer when its input file changes, and only then", async () => {
    const input = join(dir, "in.txt")
    await writeFile(input, "abc")
    assert.equal(await runOnce(measure(new File(input))), 3)
    assert.equal(await runOnce(measure(new File(input))), 3)
    assert.equal(runs.measure, 1)
    await writeFile(input, "abcdef")
    assert.equal(await runOnce(measure(new File(input))), 6)
    assert.equal(runs.measure, 2)
  })

  it("records which call produced a file and which used it", async () => {
    await runOnce(measure(produce(dir, "lineage")))
    const uses = await backend.fileUses(join(dir, "out.txt"))
    assert.deepEqual(uses.map((use) => [use.taskName, use.role]).sort(), [
      ["fileWorkflow.measure", "input"],
      ["fileWorkflow.produce", "output"],
    ])
  })

  it("replays a script whose staged output is intact and reruns it when the output is gone", async () => {
    const counter = join(dir, "script-runs")
    const make = () =>
      script(`echo run >> ${JSON.stringify(counter)}; echo data > out.txt`, { outputs: new File(join(dir, "result.txt")).stage("out.txt") })
    const first = await runOnce<File>(make())
    assert.equal(await first.read(), "data\n")
    await runOnce(make())
    assert.equal((await readFile(counter, "utf8")).split("\n").filter(Boolean).length, 1)
    await unlink(first.path)
    await runOnce(make())
    assert.equal((await readFile(counter, "utf8")).split("\n").filter(Boolean).length, 2)
  })
})
