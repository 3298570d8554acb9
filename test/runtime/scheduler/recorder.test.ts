import assert from "node:assert/strict"
import { describe, it } from "node:test"
import type { JobRecord, JobStatus, WriteBatch } from "../../../runtime/backend/backend.js"
import { BUSY_BATCH_ROWS, type JobSource, Recorder } from "../../../runtime/scheduler/recorder.js"

const HASH = "ab".repeat(32)

/** A live job whose status the test moves on; its row is built when the recorder writes it. */
function liveJob(seq: number): JobSource & { status: JobStatus } {
  return {
    seq,
    status: "PENDING",
    createdAt: Date.now(),
    toRecord(): JobRecord {
      return {
        executionId: "e",
        seq,
        parentSeq: null,
        taskHash: HASH,
        evalHash: HASH,
        callHash: this.status === "DONE" ? HASH : null,
        status: this.status,
        cached: false,
        createdAt: this.createdAt,
        startedAt: null,
        endedAt: null,
        error: null,
      }
    },
  }
}

describe("recorder", () => {
  it("keeps the short interval after a batch that wrote nothing but held young live jobs", async () => {
    const batches: { at: number; batch: WriteBatch }[] = []
    const recorder = new Recorder({ write: async (batch) => void batches.push({ at: Date.now(), batch }) }, 20, 100_000, 5_000)
    const jobs = Array.from({ length: BUSY_BATCH_ROWS + 500 }, (_, i) => liveJob(i + 1))
    for (const job of jobs) recorder.job(job)
    // The first timed batch leaves every young job buffered: it writes no row and is not busy.
    await new Promise((resolve) => setTimeout(resolve, 100))
    for (const job of jobs) job.status = "DONE"
    const done = Date.now()
    const deadline = done + 2_000
    while (!batches.some(({ batch }) => (batch.jobs?.length ?? 0) > 0) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    const written = batches.find(({ batch }) => (batch.jobs?.length ?? 0) > 0)
    assert.ok(written, "the finished jobs were written within 2 s (a busy interval would take 5 s)")
    assert.equal(written.batch.jobs?.length, jobs.length)
    await recorder.flush()
  })
})
