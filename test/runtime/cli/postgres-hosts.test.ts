/**
 * Two hosts sharing one Postgres cache: two `reductio run` processes started at the same moment on
 * overlapping fan-outs. The guarantee these specs pin (docs/architecture.md):
 *
 * - Recording is exactly-once: content-addressed rows (tasks, values, evaluations, calls, edges,
 *   file uses) are insert-if-absent, so both hosts may write the same call and it is stored once;
 *   jobs and executions belong to one host's execution and are upserted by their keys. Neither
 *   host fails on a duplicate key, and no record is lost.
 * - Execution is once across hosts: a call one host is running is leased to it in the database,
 *   and the other waits for its result (the job is then CACHED there).
 * - Within one host a call runs once: equal eval hashes in one execution share one job.
 */
import assert from "node:assert/strict"
import { readdir, readFile } from "node:fs/promises"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import pg from "pg"
import { runCli } from "../../support/cli.js"
import { createTestDatabase, postgresSkipReason, type TestDatabase } from "../../support/postgres.js"
import { type TempProject, tempProject } from "../../support/project.js"

const skip = postgresSkipReason()

// Each run of inc leaves a mark, so the specs can count how often a call really ran.
const workflow = `
import { appendFileSync, mkdirSync } from "node:fs"
import { task } from "reductio-workflow"

export const inc = task("inc", async (x: number) => {
  mkdirSync("runs", { recursive: true })
  appendFileSync("runs/" + x, process.pid + "\\n")
  await new Promise((resolve) => setTimeout(resolve, 2))
  return x + 1
})
export const fan = task("fan", (from: number, to: number) => Array.from({ length: to - from }, (_, i) => inc(from + i)))
`

const HOST_A = { from: 0, to: 600 }
const HOST_B = { from: 300, to: 900 }

describe("two hosts on one Postgres database", { skip }, () => {
  let database: TestDatabase
  let project: TempProject
  let client: pg.Client
  const query = async <T>(text: string, values: unknown[] = []): Promise<T[]> => (await client.query(text, values)).rows as T[]
  const run = (range: { from: number; to: number }) =>
    runCli(["run", "workflow.ts", "fan", "--from", String(range.from), "--to", String(range.to), "--db", database.url], {
      cwd: project.dir,
    })

  before(async () => {
    database = await createTestDatabase()
    project = await tempProject()
    await project.write("workflow.ts", workflow)
  })
  after(async () => {
    await client?.end()
    await database?.drop()
    await project?.remove()
  })

  it("run overlapping fan-outs at the same time: both succeed, with every result", async () => {
    const [a, b] = await Promise.all([run(HOST_A), run(HOST_B)])
    assert.equal(a.code, 0, a.stderr)
    assert.equal(b.code, 0, b.stderr)
    const expected = ({ from, to }: typeof HOST_A) => Array.from({ length: to - from }, (_, i) => from + i + 1)
    assert.deepEqual(JSON.parse(a.stdout), expected(HOST_A))
    assert.deepEqual(JSON.parse(b.stdout), expected(HOST_B))
    client = new pg.Client({ connectionString: database.url })
    await client.connect()
  })

  it("record every job once per execution, and both executions as done", async () => {
    const executions = await query<{ id: string; status: string; jobs: string; calls: string }>(
      // A finished job's eval hash is derived from its call node (migration 0010): count its call.
      `select e.id, e.status, count(j.seq) as jobs, count(distinct j.call_hash) as calls
       from execution e join job j on j.execution_id = e.id group by e.id, e.status order by e.id`,
    )
    assert.equal(executions.length, 2)
    for (const execution of executions) {
      assert.equal(execution.status, "DONE")
      // 600 inc calls and the fan call, each one job.
      assert.equal(Number(execution.jobs), 601)
      assert.equal(Number(execution.calls), 601)
    }
    const unfinished = await query(`select 1 from job where status not in ('DONE', 'CACHED')`)
    assert.equal(unfinished.length, 0)
  })

  it("store each evaluation and call once, with each fan-out's children in order", async () => {
    const [evaluations] = await query<{ n: string; distinct: string }>(
      "select count(*) as n, count(distinct eval_hash) as distinct from evaluation",
    )
    // 900 distinct inc calls and the two fan calls.
    assert.deepEqual([Number(evaluations?.n), Number(evaluations?.distinct)], [902, 902])
    const [calls] = await query<{ n: string; distinct: string }>(
      "select count(*) as n, count(distinct call_hash) as distinct from call_node",
    )
    assert.deepEqual([Number(calls?.n), Number(calls?.distinct)], [902, 902])
    const roots = await query<{ children: string; positions: string }>(
      `select sum(length(children) / 32) as children, max(position + length(children) / 32) as positions from call_children
       where parent_hash in (select call_hash from call_node join task on task.hash = call_node.task_hash where task.name = 'fan')
       group by parent_hash`,
    )
    assert.deepEqual(
      roots.map((root) => [Number(root.children), Number(root.positions)]),
      [
        [600, 600],
        [600, 600],
      ],
    )
  })

  it("run each call once, the shared ones included", async () => {
    const marks = await runMarks(project)
    assert.equal(marks.size, 900)
    for (const [x, pids] of marks) assert.equal(pids.length, 1, `inc(${x}) ran ${pids.length} times`)
    const leases = await query("select 1 from call_lease")
    assert.equal(leases.length, 0, "every lease is released")
  })

  it("replay both fan-outs from the shared cache afterwards", async () => {
    const runs = async () => [...(await runMarks(project)).values()].flat().length
    const before = await runs()
    const [a, b] = await Promise.all([run(HOST_B), run(HOST_A)])
    assert.equal(a.code, 0, a.stderr)
    assert.equal(b.code, 0, b.stderr)
    // Each rerun is one cached job that reuses its recorded tree of 600 calls whole.
    const statuses = await query<{ status: string; n: string; reused: string }>(
      `select status, count(*) as n, sum(reused_calls) as reused from job where execution_id not in
       (select id from execution order by id limit 2) group by status`,
    )
    assert.deepEqual(
      statuses.map((row) => [row.status, Number(row.n), Number(row.reused)]),
      [["CACHED", 2, 1200]],
    )
    assert.equal(await runs(), before)
  })
})

/** The processes that ran inc(x), by x. */
async function runMarks(project: TempProject): Promise<Map<number, string[]>> {
  const marks = new Map<number, string[]>()
  for (const name of await readdir(join(project.dir, "runs"))) {
    marks.set(Number(name), (await readFile(join(project.dir, "runs", name), "utf8")).trim().split("\n"))
  }
  return marks
}
