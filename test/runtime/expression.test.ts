import assert from "node:assert/strict"
import { inspect } from "node:util"
import { describe, it } from "node:test"
import { expressionOf } from "../../runtime/expression.js"
import { Dir, type File, isLazy, isReductioError, type Lazy, Scheduler, task } from "reductio-workflow"
import { mkdtemp, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"

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

  it("calls methods of the value lazily, typed, and reduces what they return", async () => {
    const aligned = align("s6")
    const upper: Lazy<string> = aligned.bam.toUpperCase()
    const joined: Lazy<string> = aligned.lanes.join("+")
    assert.equal(expressionOf(upper)?.kind, "apply")
    assert.equal(inspect(upper), "Lazy<test.expr.align(…).bam.toUpperCase(…)>")
    const dir = await mkdtemp(join(tmpdir(), "reductio-expr-"))
    await writeFile(join(dir, "a.txt"), "a")
    const listing = task("test.expr.listing", async (path: string) => {
      const found = new Dir(path)
      await found.updateHash()
      return { found }
    })
    const files: Lazy<File[]> = listing(dir).found.files()
    const [value, lanes, listed] = (await new Scheduler().run([upper, joined, files])) as [string, string, File[]]
    assert.equal(value, "S6.BAM")
    assert.equal(lanes, "L1")
    assert.deepEqual(
      listed.map((file) => file.path),
      [join(dir, "a.txt")],
    )
    await assert.rejects(new Scheduler().run((aligned.stats as unknown as { reads: () => Lazy<number> }).reads()), (error: unknown) =>
      isReductioError(error, "INVALID_ARGUMENT"),
    )
    await assert.rejects(
      new Scheduler().run((aligned as unknown as { __lookupGetter__: (key: string) => Lazy<unknown> }).__lookupGetter__("bam")),
      (error: unknown) => isReductioError(error, "INVALID_ARGUMENT"),
    )
  })

  it("destructures the result of a task with nout, and stops a spread of unknown length with a coded error", async () => {
    const halves = task("test.expr.halves", (xs: number[]) => [xs.slice(0, 1), xs.slice(1)], { nout: 2 })
    assert.equal([...halves([1, 2, 3])].length, 2)
    const [head, tail] = halves([1, 2, 3])
    assert.deepEqual(await new Scheduler().run([head, tail]), [[1], [2, 3]])
    const [first, second] = align("s7").lanes as unknown as Iterable<Lazy<string>>
    assert.ok(isLazy(first) && isLazy(second))
    assert.throws(
      () => [...(align("s8").lanes as unknown as Iterable<Lazy<string>>)],
      (error: unknown) => isReductioError(error, "INVALID_ARGUMENT"),
    )
    assert.throws(
      () => task("test.expr.badNout", (x: number) => [x], { nout: -1 }),
      (error: unknown) => isReductioError(error, "INVALID_ARGUMENT"),
    )
  })
})
