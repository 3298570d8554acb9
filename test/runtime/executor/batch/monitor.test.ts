import assert from "node:assert/strict"
import { describe, it } from "node:test"
import type { BatchApi, BatchJobState, BatchStatus } from "../../../../runtime/executor/batch/batch-client.js"
import { Monitor } from "../../../../runtime/executor/batch/monitor.js"

/** A Batch API over a table of child statuses, counting calls (a fake, not a mock of the SDK). */
function fakeApi(children: BatchStatus[], parentId = "parent") {
  const calls = { describe: 0, list: 0 }
  let failing = false
  const api: BatchApi = {
    findJobDefinition: async () => undefined,
    registerJobDefinition: async () => "arn",
    submitJob: async () => parentId,
    async describeJobs(ids) {
      calls.describe++
      if (failing) throw new Error("service unavailable")
      const summary: Record<string, number> = {}
      for (const status of children) summary[status] = (summary[status] ?? 0) + 1
      const done = children.every((status) => status === "SUCCEEDED" || status === "FAILED")
      const status: BatchStatus = done ? (children.includes("FAILED") ? "FAILED" : "SUCCEEDED") : "PENDING"
      return ids.filter((id) => id === parentId).map((jobId) => ({ jobId, status, statusSummary: summary, arraySize: children.length }))
    },
    async listChildren(_id, status) {
      calls.list++
      return children.flatMap((childStatus, index): BatchJobState[] =>
        childStatus === status ? [{ jobId: `${parentId}:${index}`, status, arrayIndex: index }] : [],
      )
    },
    terminateJob: async () => undefined,
    calls: () => calls.describe + calls.list,
    destroy: () => undefined,
  }
  return { api, calls, children, fail: (value: boolean) => (failing = value) }
}

const fast = { minIntervalMs: 5, maxIntervalMs: 20, callsPerSecond: 1000 }

describe("Monitor", () => {
  it("follows an array by its status summary and lists children only when more have finished", async () => {
    const fake = fakeApi(["RUNNING", "RUNNING", "RUNNING"])
    const monitor = new Monitor(fake.api, fast)
    const finished = new Map<number, string>()
    const done = new Promise<void>((resolve) => {
      monitor.watch("parent", 3, {
        wanted: () => true,
        finished: (index, state) => {
          finished.set(index ?? -1, state.status)
          if (finished.size === 3) resolve()
        },
      })
    })
    await new Promise((resolve) => setTimeout(resolve, 60))
    assert.equal(fake.calls.list, 0, "nothing finished: no listing")
    fake.children[0] = "SUCCEEDED"
    await new Promise((resolve) => setTimeout(resolve, 60))
    assert.equal(finished.get(0), "SUCCEEDED")
    fake.children[1] = "FAILED"
    fake.children[2] = "SUCCEEDED"
    await done
    assert.deepEqual([...finished].sort(), [
      [0, "SUCCEEDED"],
      [1, "FAILED"],
      [2, "SUCCEEDED"],
    ])
    assert.equal(monitor.size, 0)
    monitor.stop()
  })

  it("fails the followed calls when polling keeps failing instead of waiting forever", async () => {
    const fake = fakeApi(["RUNNING"])
    fake.fail(true)
    const monitor = new Monitor(fake.api, { ...fast, failedPolls: 3 })
    const state = await new Promise<BatchJobState>((resolve) =>
      monitor.watch("parent", undefined, { wanted: () => true, finished: (_index, finishedState) => resolve(finishedState) }),
    )
    assert.equal(state.status, "FAILED")
    assert.match(state.statusReason ?? "", /service unavailable/)
    assert.equal(fake.calls.describe, 3)
    monitor.stop()
  })

  it("stops following a job no call waits on", async () => {
    const fake = fakeApi(["RUNNING"])
    const monitor = new Monitor(fake.api, fast)
    monitor.watch("parent", 1, { wanted: () => false, finished: () => assert.fail("not wanted") })
    await new Promise((resolve) => setTimeout(resolve, 40))
    assert.equal(fake.calls.describe, 0)
    assert.equal(monitor.size, 0)
  })
})
