/**
 * Values at the sizes the codec and the scheduler promise, whole process: a fan-out of 150,000
 * calls, a task result of 1,000,000 small rows passed to another task, a value nested 100,000
 * deep passed between tasks. Each cold and cached, through `reductio run` on SQLite and through
 * the embedding API (Scheduler + openBackend, the built package) on SQLite and in memory; then
 * the codec alone on the same values. Prints one JSON object.
 *
 *   npm run build && npx tsx bench/extreme-values.ts
 */
import { performance } from "node:perf_hooks"
import { decode, encode } from "../runtime/codec.js"
import { benchProject, node, reductio, round } from "./support/whole-process.js"

const FAN_OUT = Number(process.env.BENCH_FAN_OUT ?? 150_000)
const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000)
const DEPTH = Number(process.env.BENCH_DEPTH ?? 100_000)

const workflow = `
import { task } from "reductio-workflow"
export const square = task("square", (x: number) => x * x)
export const fanout = task("fanout", (n: number) => Array.from({ length: n }, (_, i) => square(i)))
export const rows = task("rows", (n: number) => Array.from({ length: n }, (_, i) => ({ id: i, name: \`row \${i}\` })))
export const count = task("count", (list: { id: number }[]) => list.length)
export const countRows = task("countRows", (n: number) => count(rows(n)))
export const nested = task("nested", (depth: number) => {
  let value: unknown = "bottom"
  for (let i = 0; i < depth; i++) value = [value]
  return value
})
export const depthOf = task("depthOf", (value: unknown) => {
  let depth = 0
  for (let at = value; Array.isArray(at); at = at[0]) depth++
  return depth
})
export const measureNested = task("measureNested", (depth: number) => depthOf(nested(depth)))
`

// The embedding API as a program uses it: the built package, one Scheduler per run.
const embedding = `
import { openBackend, Scheduler } from "reductio-workflow"
import { countRows, fanout, measureNested } from "./workflow.ts"
const [spec, name, size] = process.argv.slice(2)
const backend = await openBackend(spec)
const root = { fanout, countRows, measureNested }[name](Number(size))
const started = performance.now()
const value = await new Scheduler({ backend }).run(root)
const seconds = (performance.now() - started) / 1000
const again = performance.now()
await new Scheduler({ backend }).run(root)
console.log(JSON.stringify({ seconds, cachedSeconds: (performance.now() - again) / 1000, size: Array.isArray(value) ? value.length : value }))
await backend.close?.()
`

const project = benchProject({ "workflow.ts": workflow, "embedding.ts": embedding })
const cli = (task: string, size: number, db: string) => {
  const flag = task === "measureNested" ? "--depth" : "--n"
  const cold = reductio(["run", "workflow.ts", task, flag, String(size), "--quiet", "--db", db], project.dir)
  const cached = reductio(["run", "workflow.ts", task, flag, String(size), "--quiet", "--db", db], project.dir)
  return { coldSeconds: cold.seconds, cachedSeconds: cached.seconds, peakRssMb: Math.max(cold.maxRssMb, cached.maxRssMb) }
}
const tsx = import.meta.resolve("tsx")
const api = (spec: string, task: string, size: number) => {
  const result = node([`--import=${tsx}`, "embedding.ts", spec, task, String(size)], project.dir)
  const figures = JSON.parse(result.stdout) as { seconds: number; cachedSeconds: number }
  return { coldSeconds: round(figures.seconds), cachedSeconds: round(figures.cachedSeconds), peakRssMb: result.maxRssMb }
}

function codec(value: unknown): { encodeSeconds: number; decodeSeconds: number; bytes: number } {
  let started = performance.now()
  const bytes = encode(value)
  const encodeSeconds = (performance.now() - started) / 1000
  started = performance.now()
  decode(bytes)
  return { encodeSeconds: round(encodeSeconds), decodeSeconds: round((performance.now() - started) / 1000), bytes: bytes.length }
}

try {
  const figures = {
    bench: "extreme-values",
    sizes: { fanOut: FAN_OUT, rows: ROWS, depth: DEPTH },
    cliSqlite: {
      fanOut: cli("fanout", FAN_OUT, "fanout.db"),
      rows: cli("countRows", ROWS, "rows.db"),
      nested: cli("measureNested", DEPTH, "nested.db"),
    },
    apiSqlite: {
      fanOut: api("api-fanout.db", "fanout", FAN_OUT),
      rows: api("api-rows.db", "countRows", ROWS),
      nested: api("api-nested.db", "measureNested", DEPTH),
    },
    apiMemory: {
      fanOut: api("memory", "fanout", FAN_OUT),
      rows: api("memory", "countRows", ROWS),
      nested: api("memory", "measureNested", DEPTH),
    },
    codec: {
      rows: codec(Array.from({ length: ROWS }, (_, i) => ({ id: i, name: `row ${i}` }))),
      nested: codec(Array.from({ length: DEPTH }).reduce<unknown>((inner) => [inner], "bottom")),
    },
  }
  console.log(JSON.stringify(figures, null, 2))
} finally {
  project.remove()
}
