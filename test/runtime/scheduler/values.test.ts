import assert from "node:assert/strict"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { after, describe, it } from "node:test"
import { encode as cborgEncode } from "cborg"
import { type Backend, isReductioError, map, MemoryBackend, openBackend, Scheduler, task } from "reductio-workflow"
import { decode, encode } from "../../../runtime/codec.js"
import { argsHashOf, sha256, valueHashOf } from "../../../runtime/hashing.js"
import { FanOutWindow, mapWindowed } from "../../../runtime/scheduler/values.js"

let orderedRuns = 0
const ordered = task("test.values.ordered", () => {
  orderedRuns++
  return { zeta: 1, alpha: 2, mid: 3 }
})
const keysOf = task("test.values.keysOf", (value: Record<string, unknown>) => Object.keys(value).join(","))
const orderedKeys = task("test.values.orderedKeys", () => keysOf(ordered()))
const square = task("test.values.square", (x: number) => x * x)
/** A list of `n` numbers with a call every `every` items: long lists through every walk, few jobs. */
const sparseFanOut = task("test.values.sparseFanOut", (n: number, every: number) =>
  Array.from({ length: n }, (_, i) => (i % every === 0 ? square(i) : i)),
)
const sum = task("test.values.sum", (list: number[]) => list.reduce((a, b) => a + b, 0))
const rows = task("test.values.rows", (n: number) => Array.from({ length: n }, (_, i) => ({ id: i, name: `r${i}` })))
const rowCount = task("test.values.rowCount", (list: { id: number }[]) => list.length + (list[list.length - 1]?.id ?? 0))
const countRows = task("test.values.countRows", (n: number) => rowCount(rows(n)))
const nested = task("test.values.nested", (depth: number) => nest(depth, 0))
const depthOf = task("test.values.depthOf", (value: unknown) => {
  let depth = 0
  for (let at = value; Array.isArray(at); at = at[0]) depth++
  return depth
})
const measureNested = task("test.values.measureNested", (depth: number) => depthOf(nested(depth)))
const nestedLazy = task("test.values.nestedLazy", (depth: number) => nest(depth, square(7)))
const cyclicResult = task("test.values.cyclicResult", () => {
  const node: Record<string, unknown> = { name: "loop" }
  node.next = { back: node }
  return node
})
const cyclicArgument = task("test.values.cyclicArgument", () => {
  const node: Record<string, unknown> = { name: "loop" }
  node.self = node
  return keysOf(node)
})

let bodiesRunning = 0
let mostBodiesRunning = 0
const slowLeaf = task("test.values.slowLeaf", async (x: number) => {
  bodiesRunning++
  mostBodiesRunning = Math.max(mostBodiesRunning, bodiesRunning)
  await new Promise((resolve) => setTimeout(resolve, 5))
  bodiesRunning--
  return x
})
const pairSum = task("test.values.pairSum", (a: number, b: number) => a + b)
/** A tree of pairSum calls over n slow leaves, none of them in a list. */
const leafTree = task("test.values.leafTree", (n: number) => {
  let level: unknown[] = Array.from({ length: n }, (_, i) => slowLeaf(i))
  while (level.length > 1) {
    const next: unknown[] = []
    for (let i = 0; i < level.length; i += 2)
      next.push(i + 1 < level.length ? pairSum(level[i] as number, level[i + 1] as number) : level[i])
    level = next
  }
  return level[0]
})

function nest(depth: number, leaf: unknown): unknown {
  let value = leaf
  for (let i = 0; i < depth; i++) value = [value]
  return value
}

const unencodableAt = (path: RegExp) => (error: unknown) =>
  isReductioError(error, "UNENCODABLE_VALUE") && path.test(String(error.details?.path)) && /cycle/.test(error.message)

describe("Scheduler: key order, cycles, size and depth", () => {
  const dirs: string[] = []
  after(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true })
  })

  async function sqlite(): Promise<Backend> {
    const dir = await mkdtemp(join(tmpdir(), "reductio-values-"))
    dirs.push(dir)
    return openBackend(join(dir, "reductio.db"))
  }

  it("gives the same key order fresh, replayed from the cache, and to a consuming task", async () => {
    for (const backend of [new MemoryBackend(), await sqlite()]) {
      orderedRuns = 0
      const fresh = (await new Scheduler({ backend }).run(ordered())) as object
      const consumed = await new Scheduler({ backend }).run(orderedKeys())
      const cached = (await new Scheduler({ backend }).run(ordered())) as object
      const replayed = await new Scheduler({ backend }).run(orderedKeys())
      assert.equal(orderedRuns, 1)
      assert.deepEqual(Object.keys(fresh), ["zeta", "alpha", "mid"])
      assert.deepEqual(Object.keys(cached), ["zeta", "alpha", "mid"])
      assert.equal(consumed, "zeta,alpha,mid")
      assert.equal(replayed, "zeta,alpha,mid")
      await backend.close?.()
    }
  })

  it("runs a call again, in its own key order, when its cache entry was recorded before cache version 2", async () => {
    const backend = await sqlite()
    // What an earlier version wrote for ordered(): sorted keys, under the eval hash of that time.
    const args = encode([], "args")
    const stale = cborgEncode({ alpha: 2, mid: 3, zeta: 1 })
    const oldEvalHash = sha256(cborgEncode(["eval", ordered.definition.hash, argsHashOf(args)]))
    await backend.write({
      values: [{ hash: valueHashOf(stale), bytes: stale }],
      evaluations: [{ evalHash: oldEvalHash, valueHash: valueHashOf(stale) }],
    })
    orderedRuns = 0
    const value = (await new Scheduler({ backend }).run(ordered())) as object
    assert.equal(orderedRuns, 1)
    assert.deepEqual(Object.keys(value), ["zeta", "alpha", "mid"])
    const [old] = (await backend.readContent?.({ values: [valueHashOf(stale)] }))?.values ?? []
    assert.deepEqual(decode(old?.bytes ?? new Uint8Array()), { alpha: 2, mid: 3, zeta: 1 })
    await backend.close?.()
  })

  it("refuses a cyclic result or argument at once with UNENCODABLE_VALUE naming the path", async () => {
    await assert.rejects(new Scheduler().run(cyclicResult()), unencodableAt(/^result of test\.values\.cyclicResult\.next\.back$/))
    await assert.rejects(new Scheduler().run(cyclicArgument()), unencodableAt(/test\.values\.keysOf.*\.self$/))
    const node: Record<string, unknown> = { lazy: square(2) }
    node.self = node
    await assert.rejects(new Scheduler().run(keysOf(node)), unencodableAt(/^args\[0\]\.self$/))
    const plain: Record<string, unknown> = {}
    plain.self = plain
    await assert.rejects(new Scheduler().run(keysOf(plain)), unencodableAt(/^args\[0\]\.self$/))
    const held: Record<string, unknown> = {}
    const call = keysOf(held)
    held.call = call
    await assert.rejects(new Scheduler().run(call), unencodableAt(/^args\[0\]\.call$/))
  })

  // The 150,000-call and 1,000,000-row runs themselves are in bench/extreme-values.ts.
  it("reduces lists of 200,000 items holding calls, returned, mapped over and passed on", async () => {
    const backend = new MemoryBackend()
    for (let run = 0; run < 2; run++) {
      const values = (await new Scheduler({ backend }).run(sparseFanOut(200_000, 20_000))) as number[]
      assert.equal(values.length, 200_000)
      assert.deepEqual([values[20_000], values[20_001]], [20_000 ** 2, 20_001])
    }
    // map() reduces its calls in windows of 10,000, as a returned list does.
    const ids = Array.from({ length: 12_000 }, (_, i) => i)
    const mapped = (await new Scheduler({ backend }).run(map(square, ids))) as number[]
    assert.equal(mapped[11_999], 11_999 ** 2)
    assert.equal(await new Scheduler({ backend }).run(sum(sparseFanOut(200_000, 50_000))), 54_999_600_000)
  })

  it("keeps a fan-out within its window, and widens a fan-out under way at once", async () => {
    const window = new FanOutWindow(2)
    let running = 0
    let peak = 0
    const waiting: (() => void)[] = []
    const started = mapWindowed(
      Array.from({ length: 10 }, (_, i) => i),
      window,
      (item) => {
        running++
        peak = Math.max(peak, running)
        return new Promise<number>((resolve) => {
          waiting.push(() => {
            running--
            resolve(item * 2)
          })
        })
      },
    )
    assert.equal(running, 2)
    window.widen(5)
    assert.equal(running, 5, "widening starts the next items before any call settles")
    window.widen(3)
    assert.equal(window.size, 5, "a window never narrows")
    while (waiting.length > 0) {
      waiting.shift()?.()
      await new Promise((resolve) => setImmediate(resolve))
    }
    assert.deepEqual(await started, [0, 2, 4, 6, 8, 10, 12, 14, 16, 18])
    assert.equal(peak, 5)
  })

  it("runs at most a window of calls at once that are no list's items (the leaves of a tree)", async () => {
    mostBodiesRunning = 0
    assert.equal(await new Scheduler({ backend: new MemoryBackend() }).run(leafTree(5_000)), (4_999 * 5_000) / 2)
    assert.ok(mostBodiesRunning <= 2_000, `${mostBodiesRunning} leaf bodies ran at once`)
    assert.ok(mostBodiesRunning >= 100, `only ${mostBodiesRunning} leaf bodies ran at once`)
  })

  it("queues calls past the window's slots and admits them as slots free or the window widens", () => {
    const window = new FanOutWindow(2)
    assert.equal(window.enter(), undefined)
    assert.equal(window.enter(), undefined)
    const admitted: string[] = []
    void window.enter()?.then(() => admitted.push("third"))
    void window.enter()?.then(() => admitted.push("fourth"))
    window.leave()
    window.widen(4)
    return new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      assert.deepEqual(admitted, ["third", "fourth"])
      assert.equal(window.enter(), undefined, "four slots, three held")
    })
  })

  it("passes a result of 200,000 small rows to another task, fresh and from the cache", async () => {
    const backend = new MemoryBackend()
    assert.equal(await new Scheduler({ backend }).run(countRows(200_000)), 399_999)
    assert.equal(await new Scheduler({ backend }).run(rowCount(rows(200_000))), 399_999)
  })

  it("passes values nested 100,000 deep between tasks, and reduces a lazy value at their bottom", async () => {
    const backend = new MemoryBackend()
    assert.equal(await new Scheduler({ backend }).run(measureNested(100_000)), 100_000)
    assert.equal(await new Scheduler({ backend }).run(measureNested(100_000)), 100_000)
    let bottom = (await new Scheduler({ backend }).run(nestedLazy(100_000))) as unknown
    let depth = 0
    for (; Array.isArray(bottom); bottom = bottom[0]) depth++
    assert.deepEqual([depth, bottom], [100_000, 49])
  })
})
