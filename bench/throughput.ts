/**
 * Throughput at scale, whole process (`reductio run`, local executor, SQLite provenance on, a
 * trivial task inc(x) = x + 1): fan-out of 10,000 and 100,000 calls cold and cached (median of
 * BENCH_RUNS), chain of 10,000, map-reduce of 100,000, database bytes per call, `reductio log` of
 * the 100,000-call execution, and peak RSS of each; `--million` adds a 1,000,000-call fan-out,
 * cold and cached (once each). Prints one JSON object with the load average, since timings on a
 * shared machine are noisy.
 *
 *   npm run build && npx tsx bench/throughput.ts [--million] [--only fanout10k,fanout100k,...]
 *
 * BENCH_RUNS (default 5) sets the runs of the 10,000-call benches, BENCH_LARGE_RUNS (default 3)
 * those of the 100,000-call ones.
 */
import { statSync } from "node:fs"
import { loadavg } from "node:os"
import { join } from "node:path"
import { benchProject, median, reductio, round, type Timed } from "./support/whole-process.js"

const workflow = `
import { task } from "reductio-workflow"
export const inc = task("inc", (x: number) => x + 1)
export const add = task("add", (a: number, b: number) => a + b)
export const fanout = task("fanout", (n: number) => Array.from({ length: n }, (_, i) => inc(i)))
export const chain = task("chain", (n: number) => {
  let x: ReturnType<typeof inc> | number = 0
  for (let i = 0; i < n; i++) x = inc(x)
  return x
})
// Map n calls, then reduce them pairwise in a tree of n - 1 calls.
export const mapReduce = task("mapReduce", (n: number) => {
  let level: (ReturnType<typeof inc> | ReturnType<typeof add>)[] = Array.from({ length: n }, (_, i) => inc(i))
  while (level.length > 1) {
    const next: ReturnType<typeof add>[] = []
    for (let i = 0; i + 1 < level.length; i += 2) next.push(add(level[i] as never, level[i + 1] as never))
    if (level.length % 2 === 1) next.push(add(level[level.length - 1] as never, 0))
    level = next
  }
  return level[0]
})
`

const argv = process.argv.slice(2)
const million = argv.includes("--million")
const onlyIndex = argv.indexOf("--only")
const only = onlyIndex >= 0 ? (argv[onlyIndex + 1] ?? "").split(",") : undefined
const wanted = (name: string) => only === undefined || only.includes(name)
const runs = Number(process.env.BENCH_RUNS ?? 5)
/** Runs of the 100,000-call benches (each takes many seconds). */
const largeRuns = Number(process.env.BENCH_LARGE_RUNS ?? 3)
const project = benchProject({ "workflow.ts": workflow })
const run = (name: string, args: string[], db: string) =>
  reductio(["run", "workflow.ts", name, ...args, "--quiet", "--db", db], project.dir)
const summary = (timed: Timed[]) => ({
  seconds: median(timed.map((t) => t.seconds)),
  all: timed.map((t) => t.seconds),
  cpuSeconds: median(timed.map((t) => t.cpuSeconds)),
  peakRssMb: Math.max(...timed.map((t) => t.maxRssMb)),
})
const bytesPerCall = (db: string, calls: number) => {
  const file = join(project.dir, db)
  const wal = (() => {
    try {
      return statSync(`${file}-wal`).size
    } catch {
      return 0
    }
  })()
  return round((statSync(file).size + wal) / calls, 1)
}

const figures: Record<string, unknown> = { bench: "throughput", runs, loadAverageBefore: round(loadavg()[0] as number, 2) }
try {
  for (const n of [10_000, 100_000]) {
    const key = `fanout${n / 1000}k`
    if (!wanted(key)) continue
    const cold: Timed[] = []
    const cached: Timed[] = []
    const times = n >= 100_000 ? largeRuns : runs
    for (let i = 0; i < times; i++) {
      cold.push(run("fanout", ["--n", String(n)], `${key}-${i}.db`))
      cached.push(run("fanout", ["--n", String(n)], `${key}-${i}.db`))
    }
    figures[key] = { calls: n, cold: summary(cold), cached: summary(cached), dbBytesPerCall: bytesPerCall(`${key}-0.db`, n + 1) }
    if (n === 100_000 && wanted("log100k")) {
      const list = reductio(["log", "--db", `${key}-0.db`, "--limit", "2", "--json"], project.dir)
      const [, coldExecution] = JSON.parse(list.stdout) as { id: string }[]
      const logs = Array.from({ length: runs }, () => reductio(["log", coldExecution?.id ?? "", "--db", `${key}-0.db`], project.dir))
      figures.log100k = summary(logs)
    }
  }
  if (wanted("chain10k")) {
    const chains = Array.from({ length: runs }, (_, i) => run("chain", ["--n", "10000"], `chain-${i}.db`))
    figures.chain10k = summary(chains)
  }
  if (wanted("mapReduce100k")) {
    const mapReduce = Array.from({ length: largeRuns }, (_, i) => run("mapReduce", ["--n", "100000"], `mr-${i}.db`))
    figures.mapReduce100k = { calls: 199_999, ...summary(mapReduce) }
  }
  if (million) {
    const cold = run("fanout", ["--n", "1000000"], "fan1m.db")
    const cached = run("fanout", ["--n", "1000000"], "fan1m.db")
    figures.fanout1m = {
      calls: 1_000_000,
      seconds: cold.seconds,
      peakRssMb: cold.maxRssMb,
      cached: { seconds: cached.seconds, peakRssMb: cached.maxRssMb },
      dbBytesPerCall: bytesPerCall("fan1m.db", 1_000_001),
    }
  }
  figures.loadAverageAfter = round(loadavg()[0] as number, 2)
  figures.targets = {
    fanout10k: { coldSeconds: 1.0, cachedSeconds: 0.5 },
    fanout100k: { coldSeconds: 5, cachedSeconds: 1.5, peakRssMb: 400, dbBytesPerCall: 400 },
    fanout1m: { seconds: 60, peakRssMb: 1536, cached: { peakRssMb: 1536 } },
    log100k: { seconds: 1 },
  }
  console.log(JSON.stringify(figures, null, 2))
} finally {
  project.remove()
}
