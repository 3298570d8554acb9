/**
 * A 10,000-call fan-out (trivial `inc(x) = x + 1`) through the built CLI, whole process, against a
 * fresh Postgres database: cold, then cached (every call replayed). Prints one JSON object.
 *
 *   npm run build && REDUCTIO_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
 *     npx tsx bench/postgres-cached-rerun.ts [calls]
 *
 * The URL names a server and a database to connect to for administration; the bench creates its
 * own database beside it and drops it afterwards. REDUCTIO_TEST_POSTGRES_URL works too.
 */
import { randomBytes } from "node:crypto"
import pg from "pg"
import { benchProject, median, reductio } from "./support/whole-process.js"

const serverUrl = process.env.REDUCTIO_BENCH_POSTGRES_URL ?? process.env.REDUCTIO_TEST_POSTGRES_URL
if (serverUrl === undefined) {
  // `npm run bench` runs every bench: without a server this one says so and does not fail.
  const skipped = "did not run: set REDUCTIO_BENCH_POSTGRES_URL=postgres://user@host:5432/db (a server it may create databases on)"
  console.log(JSON.stringify({ bench: "postgres-cached-rerun", skipped }))
  process.exit(0)
}
const calls = Number(process.argv[2] ?? 10_000)
const runs = Number(process.env.BENCH_RUNS ?? 3)

const workflow = `
import { task } from "reductio-workflow"
export const inc = task("inc", (x: number) => x + 1)
export const main = task("main", (n: number) => Array.from({ length: n }, (_, i) => inc(i)))
`

const admin = async (statement: string) => {
  const client = new pg.Client({ connectionString: serverUrl })
  await client.connect()
  try {
    await client.query(statement)
  } finally {
    await client.end()
  }
}

const project = benchProject({ "workflow.ts": workflow })
const cold: number[] = []
const cached: number[] = []
try {
  for (let i = 0; i < runs; i++) {
    const name = `reductio_bench_${randomBytes(6).toString("hex")}`
    await admin(`create database ${name}`)
    const url = new URL(serverUrl)
    url.pathname = `/${name}`
    try {
      const run = () => reductio(["run", "workflow.ts", "main", "--n", String(calls), "--quiet", "--db", url.toString()], project.dir)
      cold.push(run().seconds)
      cached.push(run().seconds)
    } finally {
      await admin(`drop database if exists ${name} with (force)`)
    }
  }
  console.log(
    JSON.stringify(
      { bench: "postgres-cached-rerun", calls, runs, coldSeconds: median(cold), cachedSeconds: median(cached), cold, cached },
      null,
      2,
    ),
  )
} finally {
  project.remove()
}
