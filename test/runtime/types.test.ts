import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { catchError, genericTask, type Lazy, map, Scheduler, type Task, task } from "reductio-workflow"

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

// Generic, recursive, tuple and higher-order types.
type Json = string | number | boolean | null | Json[] | { [key: string]: Json }
interface Tree {
  value: number
  children: Tree[]
}
const echoJson = task("test.types.json", (value: Json) => value)
const sumTree = task("test.types.tree", (tree: Tree): number => tree.value + tree.children.length)
const first = genericTask("test.types.first", <T>(items: T[]) => items[0] as T)
const identity = genericTask("test.types.identity", <T>(value: T) => value)
const split = task("test.types.split", (text: string): [string, number] => [text, text.length])
const halves = task("test.types.halves", (xs: number[]) => [xs.slice(0, 1), xs.slice(1)], { nout: 2 })
const labelled = task("test.types.labelled", (n: number, label = "x") => `${label}${n}`)
const apply = task("test.types.apply", (f: Task<[number], number>, x: number) => f(x))

describe("types of generic, recursive and tuple tasks", () => {
  it("keeps a generic task's type parameter at the call", async () => {
    const one: Lazy<number> = first([1, 2])
    const text: Lazy<string> = identity("a")
    // @ts-expect-error the type parameter is number here, not string
    const wrong: Lazy<string> = first([1, 2])
    assert.deepEqual(await new Scheduler().run([one, text, wrong]), [1, "a", 1])
  })

  it("checks recursive parameter types without TS2589", async () => {
    const json: Lazy<Json> = echoJson({ a: [1, 2, { b: "c", d: [true, null] }] })
    const tree: Lazy<number> = sumTree({ value: inc(1), children: [{ value: 2, children: [] }] })
    // @ts-expect-error a Tree needs children
    sumTree({ value: 1 })
    assert.deepEqual(await new Scheduler().run([json, tree]), [{ a: [1, 2, { b: "c", d: [true, null] }] }, 3])
  })

  it("destructures a tuple result and a result of nout items into typed lazies", async () => {
    const [word, length] = split("four")
    const w: Lazy<string> = word
    const l: Lazy<number> = length
    // @ts-expect-error the second item is a number
    const notText: Lazy<string> = length
    const [left, right] = halves([1, 2, 3])
    const rightItems: Lazy<number[]> = right
    assert.deepEqual(await new Scheduler().run([w, l, notText, left, rightItems]), ["four", 4, 4, [1], [2, 3]])
  })

  it("keeps a parameter with a default typed, calls lazy methods typed, and passes tasks typed", async () => {
    const text: Lazy<string> = labelled(1, "n")
    // @ts-expect-error label is a string
    labelled(1, 2)
    const upper: Lazy<string> = text.toUpperCase()
    const parts: Lazy<string[]> = text.split("")
    const fixed: Lazy<string> = inc(1).toFixed(2)
    const length = task("test.types.len", (s: string) => s.length)
    // @ts-expect-error a task of a string is not a task of a number
    apply(length, 1)
    const applied: Lazy<number> = apply(inc, 1)
    assert.deepEqual(await new Scheduler().run([upper, parts, fixed, applied]), ["N1", ["n", "1"], "2.00", 2])
  })
})
