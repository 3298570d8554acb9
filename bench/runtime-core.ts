/**
 * Runtime core figures, whole process from `reductio run` start to exit (local executor, SQLite
 * provenance on, trivial task inc(x) = x + 1). Prints one JSON object.
 *
 *   npm run build && npx tsx bench/runtime-core.ts
 */
import { statSync } from "node:fs"
import { join } from "node:path"
import { benchProject, median, reductio, round } from "./support/whole-process.js"

const workflow = `
import { task } from "reductio-workflow"
export const inc = task("inc", (x: number) => x + 1)
export const fanout = task("fanout", (n: number) => Array.from({ length: n }, (_, i) => inc(i)))
export const chain = task("chain", (n: number) => {
  let x: ReturnType<typeof inc> | number = 0
  for (let i = 0; i < n; i++) x = inc(x)
  return x
})
export const single = task("single", () => "done")
`

const runs = Number(process.env.BENCH_RUNS ?? 3)
const project = benchProject({ "workflow.ts": workflow })
const run = (name: string, args: string[], db: string) =>
  reductio(["run", "workflow.ts", name, ...args, "--quiet", "--db", db], project.dir)

try {
  // A new database pays for creating its schema once; a project's later runs do not.
  const singleNewDatabase = median(Array.from({ length: runs }, (_, i) => run("single", [], `single-${i}.db`).seconds))
  const single = median(Array.from({ length: runs }, (_, i) => run("single", ["--no-cache"], `single-${i}.db`).seconds))

  const cold10k: number[] = []
  const cached10k: number[] = []
  let dbBytes = 0
  for (let i = 0; i < runs; i++) {
    cold10k.push(run("fanout", ["--n", "10000"], `fan10k-${i}.db`).seconds)
    // Growth per job: the database after one cold run of 10,001 jobs.
    if (i === 0) dbBytes = statSync(join(project.dir, "fan10k-0.db")).size
    cached10k.push(run("fanout", ["--n", "10000"], `fan10k-${i}.db`).seconds)
  }
  const log = median(
    Array.from({ length: runs }, () => {
      // The cold run's execution (the cached rerun after it reuses the tree in one job).
      const list = reductio(["log", "--db", "fan10k-0.db", "--limit", "2", "--json"], project.dir)
      const [, cold] = JSON.parse(list.stdout) as { id: string }[]
      const log = reductio(["log", cold?.id ?? "", "--db", "fan10k-0.db"], project.dir)
      if (!log.stdout.includes("10001 jobs")) throw new Error(`expected the 10,001-job execution:\n${log.stdout.slice(0, 400)}`)
      return log.seconds
    }),
  )
  const chain = median(Array.from({ length: runs }, (_, i) => run("chain", ["--n", "10000"], `chain-${i}.db`).seconds))
  const cold100k = run("fanout", ["--n", "100000"], "fan100k.db")

  console.log(
    JSON.stringify(
      {
        bench: "runtime-core",
        runs,
        singleTaskSeconds: single,
        singleTaskNewDatabaseSeconds: singleNewDatabase,
        fanout10kColdSeconds: median(cold10k),
        fanout10kCachedSeconds: median(cached10k),
        fanout100kColdSeconds: cold100k.seconds,
        fanout100kPeakRssMb: cold100k.maxRssMb,
        chain10kSeconds: chain,
        dbBytesPerJob: round(dbBytes / 10_001, 1),
        log10kJobsSeconds: log,
        targets: {
          singleTaskSeconds: 0.4,
          fanout10kColdSeconds: 1.5,
          fanout10kCachedSeconds: 1.0,
          fanout100kColdSeconds: 10,
          fanout100kPeakRssMb: 1024,
          chain10kSeconds: 3,
          dbBytesPerJob: 1024,
          log10kJobsSeconds: 0.5,
        },
      },
      null,
      2,
    ),
  )
} finally {
  project.remove()
}
