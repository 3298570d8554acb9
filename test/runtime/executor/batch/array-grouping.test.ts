import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { Grouper } from "../../../../runtime/executor/batch/array-grouping.js"

/** A grouper whose submissions stay in flight until the test releases them. */
function grouperWithManualSubmissions(maxDelayMs = 10_000) {
  const sent: string[][] = []
  const releases: (() => void)[] = []
  const grouper = new Grouper<string>({
    maxSize: 100,
    maxDelayMs,
    flush: (_key, items) => {
      sent.push(items)
      return new Promise<void>((resolve) => releases.push(resolve))
    },
  })
  const release = async () => {
    releases.shift()?.()
    await new Promise((resolve) => setImmediate(resolve))
  }
  return { grouper, sent, release }
}

describe("Grouper", () => {
  it("sends a group on flushAll and not before", () => {
    const { grouper, sent } = grouperWithManualSubmissions()
    grouper.add("k", "a")
    grouper.add("k", "b")
    assert.deepEqual(sent, [])
    grouper.flushAll()
    assert.deepEqual(sent, [["a", "b"]])
    grouper.drain()
  })

  it("holds calls that arrive while their key's submission is in flight and sends them together when it ends", async () => {
    const { grouper, sent, release } = grouperWithManualSubmissions()
    grouper.add("k", "a")
    grouper.flushAll()
    for (const item of ["b", "c", "d"]) {
      grouper.add("k", item)
      grouper.flushAll()
    }
    assert.deepEqual(sent, [["a"]], "nothing more goes out while the first submission is in flight")
    await release()
    assert.deepEqual(sent, [["a"], ["b", "c", "d"]])
    await release()
  })

  it("does not hold another key's group behind an in-flight submission", () => {
    const { grouper, sent } = grouperWithManualSubmissions()
    grouper.add("k", "a")
    grouper.flushAll()
    grouper.add("other", "x")
    grouper.flushAll()
    assert.deepEqual(sent, [["a"], ["x"]])
  })

  it("sends a full group at once, even while a submission of its key is in flight", () => {
    const sent: number[] = []
    const grouper = new Grouper<number>({ maxSize: 3, maxDelayMs: 10_000, flush: (_key, items) => void sent.push(items.length) })
    for (let i = 0; i < 7; i++) grouper.add("k", i)
    assert.deepEqual(sent, [3, 3])
    assert.deepEqual(grouper.drain(), [6])
  })

  it("sends after maxDelayMs when flushAll never comes", async () => {
    const { grouper, sent } = grouperWithManualSubmissions(20)
    grouper.add("k", "a")
    await new Promise((resolve) => setTimeout(resolve, 60))
    assert.deepEqual(sent, [["a"]])
  })
})
