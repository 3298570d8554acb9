import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { MemoryBackend } from "../../../runtime/backend/memory-backend.js"
import { validateConfig } from "../../../runtime/config/config.js"
import { withProfiles } from "../../../runtime/config/load-config.js"
import { type Route, routeOf, routingFor } from "../../../runtime/config/routes.js"
import { isReductioError } from "../../../runtime/errors.js"
import type { Executor, JobRequest } from "../../../runtime/executor/executor.js"
import type { CallOptions } from "../../../runtime/expression.js"
import { Scheduler } from "../../../runtime/scheduler/scheduler.js"
import { task } from "../../../runtime/task.js"

/** An executor that runs nothing remote: it records each call's options and returns them. */
function recordingExecutor(): Executor & { readonly seen: Map<string, CallOptions> } {
  const seen = new Map<string, CallOptions>()
  return {
    kind: "recording",
    seen,
    submit: async (job: JobRequest) => {
      seen.set(job.task.name, job.options)
      return { status: "done", value: job.task.name }
    },
    stop: async () => undefined,
  }
}

const align = task("routes.align.bwa", () => "x", { executor: "remote", memory: 1024 })
const qc = task("routes.qc.fastqc", () => "x", { executor: "remote" })
const big = task("routes.big", () => "x", { executor: "remote", vcpus: 64 })
const rest = task("routes.rest", () => "x", { executor: "remote" })
const main = task("routes.main", (pinned: boolean) => [
  align(),
  pinned ? qc.options({ batch: { queue: "call-site" }, memory: 777 })() : qc(),
  big(),
  rest(),
])

const routes: Route[] = [
  { match: "routes.align.*", queue: "gpu", memory: 16384, gpus: 1, image: "repo/aligner@sha256:abc" },
  { match: /^routes\.qc\./, queue: "qc", memory: 512, batch: { schedulingPriority: 9 } },
  { match: (t) => (t.options.vcpus ?? 0) > 32, queue: "highcpu", retries: 2 },
  { match: "routes.*", queue: "catch-all" },
]

describe("routing rules", () => {
  it("match globs, regular expressions and predicates on the task, first match winning", () => {
    assert.equal(routeOf(routes, align.definition)?.index, 0)
    assert.equal(routeOf(routes, qc.definition)?.index, 1)
    assert.equal(routeOf(routes, big.definition)?.index, 2)
    assert.equal(routeOf(routes, rest.definition)?.index, 3)
    assert.equal(routeOf(routes, { name: "other", options: {} }), undefined)
    assert.equal(routeOf([{ match: "a?c" }], { name: "abc", options: {} })?.index, 0)
    assert.equal(routeOf([{ match: "a.c" }], { name: "abc", options: {} }), undefined, "a dot in a glob is a dot")
    assert.equal(
      routeOf(
        [
          {
            match: () => {
              throw new Error("bad")
            },
          },
        ],
        { name: "abc", options: {} },
      ),
      undefined,
    )
  })

  it("lie over the task's options, under the call site's and the run's overrides", async () => {
    const executor = recordingExecutor()
    const scheduler = new Scheduler({
      backend: new MemoryBackend(),
      executors: { remote: executor },
      routing: routingFor(routes),
      taskOptions: { "routes.big": { retries: 5 } },
    })
    await scheduler.run(main(true))
    const seen = (name: string) => executor.seen.get(name) as CallOptions
    assert.equal(seen("routes.align.bwa").memory, 16384, "the rule wins over the declaration")
    assert.equal(seen("routes.align.bwa").image, "repo/aligner@sha256:abc")
    assert.deepEqual(seen("routes.align.bwa").batch, { queue: "gpu" })
    assert.equal(seen("routes.qc.fastqc").memory, 777, "the call site wins over the rule")
    assert.deepEqual(seen("routes.qc.fastqc").batch, { schedulingPriority: 9, queue: "call-site" }, "batch settings merge by key")
    assert.equal(seen("routes.big").retries, 5, "the run's overrides win over the rule")
    assert.deepEqual(seen("routes.big").batch, { queue: "highcpu" })
    assert.deepEqual(seen("routes.rest").batch, { queue: "catch-all" })
  })

  it("are validated with the key that is wrong", () => {
    const bad: unknown[] = [
      [{ queue: "q" }],
      [{ match: 3 }],
      [{ match: "a", memory: -1 }],
      [{ match: "a", gpus: 1.5 }],
      [{ match: "a", executor: "nowhere" }],
      [{ match: "a", colour: "red" }],
      [{ match: "a", batch: { platform: "MARS" } }],
      { match: "a" },
    ]
    for (const value of bad) {
      assert.throws(
        () => validateConfig({ routes: value }, "reductio.config.ts"),
        (error: unknown) => isReductioError(error, "CONFIG_INVALID") && String(error.details?.key).startsWith("config.routes"),
        JSON.stringify(value),
      )
    }
    assert.throws(
      () => validateConfig({ profiles: { gpu: { routes: [{ match: "a", executor: "gpu" }] } } }, "reductio.config.ts"),
      (error: unknown) => isReductioError(error, "CONFIG_INVALID") && error.details?.key === "config.profiles.gpu.routes[0].executor",
    )
    const config = {
      executors: { batch: { type: "aws_batch", image: "i", queue: "q", scratch: "s3://b/p" } },
      routes: [{ match: /x/, executor: "batch" }],
    }
    assert.equal(validateConfig(config, "reductio.config.ts"), config)
  })

  it("from a profile are tried before the file's, and say where they came from", () => {
    const fileRule: Route = { match: "align.*", queue: "spot" }
    const profileRule: Route = { match: "align.*", queue: "on-demand" }
    const merged = withProfiles({ routes: [fileRule], profiles: { prod: { routes: [profileRule] } } }, ["prod"], "reductio.config.ts")
    const choice = routeOf(merged.routes, { name: "align.bwa", options: {} })
    assert.equal(choice?.route, profileRule)
    assert.equal(choice?.origin, "profile prod")
    assert.equal(routeOf(merged.routes, { name: "x", options: {} }), undefined)
    assert.equal(withProfiles({ routes: [fileRule] }, [], "c").routes?.length, 1)
  })
})
