import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { catchError, type Lazy, map, Scheduler, task } from "reductio"

// Compile-time checks: this file must type-check (npm test runs tsc over test/).
const inc = task("test.types.inc", (x: number) => x + 1)
const viaTask = task("test.types.via", (n: number) => inc(n))
const nested = task("test.types.nested", (xs: number[]) => map(inc, xs))
const sum = task("test.types.sum", (xs: number[]) => xs.reduce((a, b) => a + b, 0))
const safe = task("test.types.safe", (n: number) => catchError(inc(n), 0))

describe("types", () => {
  it("map over a task that returns a lazy gives the resolved element type", async () => {
    const mapped: Lazy<number[]> = map(viaTask, [1, 2])
    const total: Lazy<number> = sum(map(viaTask, [1, 2]))
    const flat: Lazy<number[][]> = map(nested, [[1], [2, 3]])
    const caught: Lazy<number[]> = map(safe, [1])
    assert.deepEqual(await new Scheduler().run([mapped, total, flat, caught]), [[2, 3], 5, [[2], [3, 4]], [2]])
  })

  it("rejects a Lazy of the wrong type", () => {
    const text = task("test.types.text", () => "a")
    // @ts-expect-error a Lazy<string> is not a number
    inc(text())
    assert.ok(true)
  })
})
