import assert from "node:assert/strict"
import { availableParallelism } from "node:os"
import { describe, it } from "node:test"
import { LocalExecutor } from "../../../runtime/executor/local-executor.js"
import { MemoryBackend } from "../../../runtime/backend/memory-backend.js"
import { Scheduler } from "../../../runtime/scheduler/scheduler.js"
import { script } from "../../../runtime/script.js"
import { type TaskOptions, task } from "../../../runtime/task.js"

/** Tasks whose bodies count how many of them are running at once. */
function counted(name: string, options: TaskOptions = {}) {
  const seen = { now: 0, most: 0 }
  const body = task(
    name,
    async (i: number) => {
      seen.most = Math.max(seen.most, ++seen.now)
      await new Promise((resolve) => setTimeout(resolve, 20))
      seen.now--
      return i
    },
    options,
  )
  const fanout = task(`${name}.fanout`, (n: number) => Array.from({ length: n }, (_, i) => body(i)))
  return { seen, fanout }
}

const run = (executor: LocalExecutor, expression: unknown) =>
  new Scheduler({ backend: new MemoryBackend(), executors: { local: executor }, cache: false }).run(expression)

describe("LocalExecutor", () => {
  const cores = availableParallelism()

  it("runs plain in-process calls without a limit", async () => {
    const { seen, fanout } = counted("local.plain")
    await run(new LocalExecutor(), fanout(cores + 4))
    assert.equal(seen.most, cores + 4)
  })

  it("runs at most as many calls that declare vcpus at once as the machine has cores, by default", async () => {
    const { seen, fanout } = counted("local.onecpu", { vcpus: 1 })
    await run(new LocalExecutor(), fanout(cores + 4))
    assert.equal(seen.most, cores)
  })

  it("weighs calls by their vcpus: a call that wants every core runs alone", async () => {
    const { seen, fanout } = counted("local.allcpus", { vcpus: cores })
    await run(new LocalExecutor(), fanout(4))
    assert.equal(seen.most, 1)
  })

  it("weighs calls by their memory against the memory it is given", async () => {
    const { seen, fanout } = counted("local.memory", { memory: 600 })
    await run(new LocalExecutor({ memory: 1000 }), fanout(4))
    assert.equal(seen.most, 1)
  })

  it("lets concurrency override the cores for weighted calls and cap every call", async () => {
    const weighted = counted("local.override", { vcpus: 1 })
    await run(new LocalExecutor({ concurrency: cores + 2 }), weighted.fanout(cores + 4))
    assert.equal(weighted.seen.most, cores + 2)
    const plain = counted("local.capped")
    await run(new LocalExecutor({ concurrency: 2 }), plain.fanout(6))
    assert.equal(plain.seen.most, 2)
  })

  it("starts at most as many script processes at once as it has vcpus", async () => {
    const dir = `${process.env.TMPDIR ?? "/tmp"}/reductio-local-scripts-${process.pid}`
    const sleepy = task("local.scripts", (n: number) =>
      Array.from({ length: n }, (_, i) => script(`mkdir -p ${dir}; ls ${dir} | wc -l; touch ${dir}/${i}; sleep 0.3; rm ${dir}/${i}`)),
    )
    const counts = (await run(new LocalExecutor({ concurrency: 2 }), sleepy(6))) as string[]
    // Each script saw how many others were running as it started: never 2 or more.
    assert.ok(
      counts.every((count) => Number(count.trim()) < 2),
      counts.join(","),
    )
  })
})
