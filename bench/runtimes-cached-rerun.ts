/**
 * A cached rerun of an N-call fan-out under Node, Bun and Deno (each on its own SQLite database:
 * better-sqlite3 under Node 20, node:sqlite elsewhere), then one database shared by all three
 * (a run under Node replayed under Bun and Deno). Whole process, the built CLI.
 *
 *   npm run build && npx tsx bench/runtimes-cached-rerun.ts
 */
import { spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { join } from "node:path"
import { benchProject, median, repoRoot, round } from "./support/whole-process.js"

const n = Number(process.env.BENCH_CALLS ?? 1000)
const runs = Number(process.env.BENCH_RUNS ?? 3)
const bin = join(repoRoot, "bin", "reductio.js")
const runtimes: Record<string, { binary: string; args: string[] }> = {
  node: { binary: process.execPath, args: [bin] },
  bun: { binary: join(repoRoot, "node_modules", ".bin", "bun"), args: [bin] },
  deno: { binary: join(repoRoot, "node_modules", ".bin", "deno"), args: ["run", "-A", bin] },
}

const workflow = `
import { task } from "reductio-workflow"
export const inc = task("inc", (i: number) => i + 1)
export const fanout = task("fanout", (n: number) => Array.from({ length: n }, (_, i) => inc(i)))
`

function runUnder(runtime: string, db: string, cwd: string): { seconds: number; summary: string } {
  const { binary, args } = runtimes[runtime] as { binary: string; args: string[] }
  const started = process.hrtime.bigint()
  const result = spawnSync(binary, [...args, "run", "workflow.ts", "fanout", "--n", String(n), "--db", db], {
    cwd,
    encoding: "utf8",
    env: { ...process.env, NODE_OPTIONS: "", NO_COLOR: "1" },
  })
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  if (result.status !== 0) throw new Error(`${runtime} failed: ${result.stderr}`)
  return { seconds, summary: (result.stderr.trim().split("\n").pop() ?? "").replace(/^execution \S+ /, "") }
}

function version(runtime: string): string {
  const { binary } = runtimes[runtime] as { binary: string }
  return spawnSync(binary, ["--version"], { encoding: "utf8" }).stdout.split("\n")[0]?.trim() ?? ""
}

const project = benchProject({ "workflow.ts": workflow })
try {
  const present = Object.keys(runtimes).filter((runtime) => existsSync((runtimes[runtime] as { binary: string }).binary))
  const perRuntime: Record<string, unknown> = {}
  for (const runtime of present) {
    const db = `${runtime}.db`
    const first = runUnder(runtime, db, project.dir)
    const reruns = Array.from({ length: runs }, () => runUnder(runtime, db, project.dir))
    perRuntime[runtime] = {
      version: version(runtime),
      firstRunSeconds: round(first.seconds),
      cachedRerunSeconds: round(median(reruns.map((r) => r.seconds))),
      cachedRerunSummary: reruns[0]?.summary,
    }
  }
  // One database for all: written under Node, replayed by the others.
  runUnder("node", "shared.db", project.dir)
  const shared: Record<string, string> = {}
  for (const runtime of present.filter((r) => r !== "node")) shared[runtime] = runUnder(runtime, "shared.db", project.dir).summary
  console.log(
    JSON.stringify({ bench: "runtimes-cached-rerun", calls: n, runs, runtimes: perRuntime, sharedDatabaseRerun: shared }, null, 2),
  )
} finally {
  project.remove()
}
