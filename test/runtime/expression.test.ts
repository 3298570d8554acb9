import assert from "node:assert/strict"
import { inspect } from "node:util"
import { describe, it } from "node:test"
import { expressionOf } from "../../runtime/expression.js"
import { isLazy, isReductioError, type Lazy, task } from "reductio"

interface Aligned {
  bam: string
  stats: { reads: number }
  lanes: string[]
}
const align = task("test.expr.align", (sample: string): Aligned => ({ bam: `${sample}.bam`, stats: { reads: 1 }, lanes: ["L1"] }))

describe("Lazy", () => {
  it("turns property and index access into typed lazy expressions", () => {
    const aligned = align("s1")
    const bam: Lazy<string> = aligned.bam
    const reads: Lazy<number> = aligned.stats.reads
    const lane: Lazy<string> = aligned.lanes[0]!
    assert.deepEqual(expressionOf(bam), { kind: "get", target: expressionOf(aligned), key: "bam" })
    assert.equal(expressionOf(lane)?.kind, "get")
    assert.equal((expressionOf(lane) as { key: unknown }).key, 0)
    assert.ok(isLazy(reads))
  })

  it("is not thenable, so async task bodies can return it", async () => {
    const aligned = align("s2")
    assert.equal((aligned as unknown as { then?: unknown }).then, undefined)
    const returned = await (async () => aligned)()
    assert.ok(isLazy(returned))
  })

  it("refuses to be used as a value before it exists", () => {
    const aligned = align("s3")
    assert.throws(
      () => `${aligned.bam}`,
      (error: unknown) => isReductioError(error, "INVALID_ARGUMENT"),
    )
    assert.throws(
      () => JSON.stringify(aligned),
      (error: unknown) => isReductioError(error, "INVALID_ARGUMENT"),
    )
  })

  it("describes itself when inspected", () => {
    assert.equal(inspect(align("s4").bam), "Lazy<test.expr.align(…).bam>")
  })

  it("refuses an option name it does not know", () => {
    const options = { exector: "process" } as unknown as Parameters<typeof align.options>[0]
    assert.throws(
      () => align.options(options),
      (error: unknown) => isReductioError(error, "INVALID_ARGUMENT"),
    )
    assert.throws(
      () => task("test.expr.typo", () => 1, { retry: 2 } as unknown as Parameters<typeof task>[2]),
      (error: unknown) => isReductioError(error, "INVALID_ARGUMENT"),
    )
  })

  it("exposes call-site options without changing the call", () => {
    const onProcess = align.options({ executor: "process", memory: 4096 })
    assert.deepEqual(expressionOf(onProcess("s5"))?.kind, "call")
    assert.deepEqual((expressionOf(onProcess("s5")) as { options?: unknown }).options, { executor: "process", memory: 4096 })
  })
})
