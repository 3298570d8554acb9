import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { TokenBucket } from "../../../../runtime/executor/batch/token-bucket.js"

describe("TokenBucket", () => {
  it("lets a burst through at once, then paces calls at its rate", async () => {
    const bucket = new TokenBucket({ ratePerSecond: 50, burst: 5 })
    const startedAt = Date.now()
    const times: number[] = []
    await Promise.all(Array.from({ length: 10 }, () => bucket.take().then(() => times.push(Date.now() - startedAt))))
    // Measured from the first grant, so a busy event loop that delays every grant alike passes.
    assert.ok((times[4] ?? 0) - (times[0] ?? 0) < 50, `burst served at once: ${times}`)
    // Five more tokens at 50/s take about 100 ms.
    assert.ok((times[9] ?? 0) >= 80, `paced: ${times}`)
  })

  it("serves nobody while paused after a throttled answer", async () => {
    const bucket = new TokenBucket({ ratePerSecond: 1000, burst: 10 })
    bucket.pause(80)
    const startedAt = Date.now()
    await bucket.take()
    assert.ok(Date.now() - startedAt >= 75)
  })
})
