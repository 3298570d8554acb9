/**
 * Records executions for the UI's specs and benchmark through the embedding API, on a SQLite
 * database: one that succeeds (a fan-out, a File written and read), one whose task fails.
 */
import { join } from "node:path"
import { SqliteBackend } from "../../runtime/backend/sqlite-backend.js"
import { File } from "../../runtime/file.js"
import { Scheduler } from "../../runtime/scheduler/scheduler.js"
import { task } from "../../runtime/task.js"

export const inc = task("uitest.inc", (x: number) => x + 1)
export const write = task("uitest.write", async (path: string, text: string) => {
  const file = new File(path)
  await file.write(text)
  return file
})
export const shout = task("uitest.shout", async (input: File) => (await input.read()).toUpperCase())
export const explode = task("uitest.explode", (sample: { name: string; reads: number }) => {
  if (sample.reads > 1) throw new Error(`sample ${sample.name} has ${sample.reads} reads: too many`)
  return sample.reads
})
export const fanout = task("uitest.fanout", (n: number) => Array.from({ length: n }, (_, i) => inc(i)))
export const main = task("uitest.main", (dir: string, n: number) => [fanout(n), shout(write(join(dir, "greeting.txt"), "hello"))])
export const failing = task("uitest.failing", () => [inc(100), explode({ name: "s1", reads: 7 })])

export interface RecordedRuns {
  readonly dbPath: string
  readonly okId: string
  readonly failedId: string
  readonly filePath: string
}

/** Records the two executions in `<dir>/reductio.db`; the failed one is the most recent. */
export async function recordUiRuns(dir: string, n = 3): Promise<RecordedRuns> {
  const dbPath = join(dir, "reductio.db")
  const backend = new SqliteBackend(dbPath)
  await backend.open()
  try {
    let okId = ""
    let failedId = ""
    const ids = new Scheduler({ backend, onEvent: (event) => event.type === "execution-started" && (okId = event.executionId) })
    await ids.run(main(dir, n), { command: `run workflow.ts main --n ${n}`, tags: { team: "bio" } })
    const failing2 = new Scheduler({ backend, onEvent: (event) => event.type === "execution-started" && (failedId = event.executionId) })
    await failing2.run(failing(), { command: "run workflow.ts failing" }).catch(() => undefined)
    return { dbPath, okId, failedId, filePath: join(dir, "greeting.txt") }
  } finally {
    await backend.close()
  }
}
