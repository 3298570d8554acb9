/**
 * What loading a TypeScript workflow costs a whole `reductio run` (built CLI, fresh SQLite
 * database, one trivial task): wall and CPU time (all threads, the module-hooks thread
 * included) of `run workflow.ts fanout --n 1`, against the same workflow as JavaScript (no
 * TypeScript loader) as the floor. Medians of BENCH_RUNS runs (5) under this Node and each Node
 * binary named on the command line (say a Node 22 with `module.registerHooks` beside Node 20).
 * Prints one JSON object.
 *
 *   npm run build && npx tsx bench/startup-typescript.ts [/path/to/other/node ...]
 */
import { spawnSync } from "node:child_process"
import { rmSync } from "node:fs"
import { join } from "node:path"
import { benchProject, median, reductio, round } from "./support/whole-process.js"

const workflow = `import { task } from "reductio-workflow"
export const inc = task("inc", (x: number) => x + 1)
export const fanout = task("fanout", (n: number) => Array.from({ length: n }, (_, i) => inc(i)))
`
const runs = Number(process.env.BENCH_RUNS ?? 5)
const nodes = [process.execPath, ...process.argv.slice(2)]
const project = benchProject({ "workflow.ts": workflow, "workflow.js": workflow.replace(/: number/g, "") })

/** Median wall and CPU seconds of `runs` runs of `file`'s fanout under `execPath`, each on a new database. */
function measure(execPath: string, file: string): { wallSeconds: number; cpuSeconds: number } {
  const timed = Array.from({ length: runs }, () => {
    rmSync(join(project.dir, "x.db"), { force: true })
    return reductio(["run", file, "fanout", "--n", "1", "--quiet", "--db", "x.db"], project.dir, execPath)
  })
  return { wallSeconds: median(timed.map((t) => t.seconds)), cpuSeconds: median(timed.map((t) => t.cpuSeconds)) }
}

try {
  const results = nodes.map((execPath) => {
    const version = spawnSync(execPath, ["--version"], { encoding: "utf8" }).stdout.trim()
    process.env.REDUCTIO_DEBUG = "typescript"
    const loader = reductio(["run", "workflow.ts", "fanout", "--n", "1", "--quiet", "--db", "memory"], project.dir, execPath)
    delete process.env.REDUCTIO_DEBUG
    // A first TypeScript run fills the transform cache: the runs measured find it, as a project's reruns do.
    const typescript = measure(execPath, "workflow.ts")
    const javascript = measure(execPath, "workflow.js")
    return {
      node: version,
      loader: /TypeScript loader: (\S+)/.exec(loader.stderr)?.[1] ?? "unknown",
      typescript,
      javascript,
      loaderWallSeconds: round(typescript.wallSeconds - javascript.wallSeconds),
      loaderCpuSeconds: round(typescript.cpuSeconds - javascript.cpuSeconds),
    }
  })
  console.log(JSON.stringify({ bench: "startup-typescript", runs, results }, null, 2))
} finally {
  project.remove()
}
