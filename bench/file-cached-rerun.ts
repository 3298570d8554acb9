/**
 * A 10,000-call cached rerun whose results hold local Files, against the same rerun whose results
 * are plain numbers (target: at most 2×). Whole process, SQLite, the built CLI.
 *
 *   npm run build && npx tsx bench/file-cached-rerun.ts
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { benchProject, median, reductio, round } from "./support/whole-process.js"

const n = Number(process.env.BENCH_CALLS ?? 10_000)
const runs = Number(process.env.BENCH_RUNS ?? 3)

const workflow = `
import { File, task } from "reductio-workflow"
export const plain = task("plain", (i: number) => i + 1)
export const withFile = task("withFile", (i: number) => new File(\`data/\${i % 1000}.txt\`))
export const plainFanout = task("plainFanout", (n: number) => Array.from({ length: n }, (_, i) => plain(i)))
export const fileFanout = task("fileFanout", (n: number) => Array.from({ length: n }, (_, i) => withFile(i)))
`

const project = benchProject({ "workflow.ts": workflow })
try {
  mkdirSync(join(project.dir, "data"))
  for (let i = 0; i < 1000; i++) writeFileSync(join(project.dir, "data", `${i}.txt`), `file ${i}\n`)
  const cached = (name: string) => {
    const db = `${name}.db`
    reductio(["run", "workflow.ts", name, "--n", String(n), "--quiet", "--db", db], project.dir)
    return median(
      Array.from(
        { length: runs },
        () => reductio(["run", "workflow.ts", name, "--n", String(n), "--quiet", "--db", db], project.dir).seconds,
      ),
    )
  }
  const plainSeconds = cached("plainFanout")
  const fileSeconds = cached("fileFanout")
  console.log(
    JSON.stringify(
      {
        bench: "file-cached-rerun",
        calls: n,
        runs,
        plainCachedSeconds: plainSeconds,
        fileCachedSeconds: fileSeconds,
        ratio: round(fileSeconds / plainSeconds, 2),
        target: { ratio: 2 },
      },
      null,
      2,
    ),
  )
} finally {
  project.remove()
}
