/**
 * @module kysely-call-graph
 * The SQL backends' reads of the call graph and of content-addressed rows: a call tree for call
 * replay (one recursive query), call records with their edges, and the content `push`/`pull`
 * copies between databases.
 */
import { type Kysely, sql } from "kysely"
import type { CallRecord, CallTree, ContentRequest, FileUseRecord, TreeCall, WriteBatch } from "./backend.js"
import type { SqlDialectAdapter } from "./kysely-backend.js"
import type { Database } from "./schema.js"
import { bufferToHash, chunks, hashToBuffer, plainBytes, toTimeOrNull } from "./sql-rows.js"

type Adapter = Pick<SqlDialectAdapter, "hex" | "maxParameters">

/** See {@link Backend.loadCallTree}. */
export async function loadCallTree(db: Kysely<Database>, adapter: Adapter, callHash: string): Promise<CallTree | undefined> {
  const root = hashToBuffer(callHash)
  const node = await db
    .selectFrom("call_node")
    .innerJoin("value", "value.hash", "call_node.value_hash")
    .select([adapter.hex("call_node.value_hash").as("value_hash"), "value.bytes"])
    .where("call_node.call_hash", "=", root)
    .executeTakeFirst()
  if (node?.value_hash == null) return undefined
  const { rows } = await sql<{ call_hash: string; task_hash: string | null; args_hash: string | null }>`
    with recursive ${descendants(root)}
    select ${adapter.hex("t.hash")} as call_hash, ${adapter.hex("c.task_hash")} as task_hash, ${adapter.hex("c.args_hash")} as args_hash
    from tree t left join call_node c on c.call_hash = t.hash`.execute(db)
  const calls: TreeCall[] = []
  for (const row of rows) {
    // A child without its node (a partial copy) cannot be checked: no replay.
    if (!row.task_hash || !row.args_hash) return undefined
    calls.push({ callHash: row.call_hash, taskHash: row.task_hash, argsHash: row.args_hash })
  }
  const edges = await sql<{ parent_hash: string; child_hash: string }>`
    with recursive ${descendants(root)}
    select ${adapter.hex("e.parent_hash")} as parent_hash, ${adapter.hex("e.child_hash")} as child_hash
    from call_edge e where e.parent_hash = ${root} or e.parent_hash in (select hash from tree)`.execute(db)
  const checked =
    calls.length === 0
      ? { rows: [] }
      : await sql<{ bytes: Uint8Array | null }>`
    with recursive ${descendants(root)},
    flagged(value_hash, args_hash) as (
      select c.value_hash, c.args_hash from tree t join call_node c on c.call_hash = t.hash
      where c.checked is null or c.checked <> 0
    ),
    hashes(hash) as (select value_hash from flagged union select args_hash from flagged)
    select h.hash, v.bytes from hashes h left join value v on v.hash = h.hash`.execute(db)
  // A value to check that is not recorded (a partial copy): no replay.
  if (checked.rows.some((row) => row.bytes === null)) return undefined
  return {
    valueHash: node.value_hash,
    bytes: plainBytes(node.bytes),
    calls,
    edges: edges.rows.map((row) => [row.parent_hash, row.child_hash] as const),
    checkedValues: checked.rows.map((row) => plainBytes(row.bytes as Uint8Array)),
  }
}

/** `tree(hash)`: every call below `root`; UNION (not UNION ALL) visits a shared call once. */
function descendants(root: Buffer) {
  return sql`tree(hash) as (
      select child_hash from call_edge where parent_hash = ${root}
      union
      select e.child_hash from call_edge e join tree t on e.parent_hash = t.hash
    )`
}

/** Call records (node and ordered children) of the given call hashes; absent ones are left out. */
export async function readCalls(db: Kysely<Database>, adapter: Adapter, callHashes: readonly string[]): Promise<CallRecord[]> {
  const nodes = await chunked(adapter, callHashes, (hashes) =>
    db.selectFrom("call_node").selectAll().where("call_hash", "in", hashes).execute(),
  )
  const edges = await chunked(adapter, callHashes, (hashes) =>
    db.selectFrom("call_edge").selectAll().where("parent_hash", "in", hashes).execute(),
  )
  const children = new Map<string, string[]>()
  for (const edge of edges.sort((a, b) => a.position - b.position)) {
    const parent = bufferToHash(edge.parent_hash)
    let list = children.get(parent)
    if (list === undefined) children.set(parent, (list = []))
    list.push(bufferToHash(edge.child_hash))
  }
  return nodes.map((node) => {
    const callHash = bufferToHash(node.call_hash)
    return {
      callHash,
      taskHash: bufferToHash(node.task_hash),
      argsHash: bufferToHash(node.args_hash),
      valueHash: bufferToHash(node.value_hash),
      children: children.get(callHash) ?? [],
      ...(node.checked === null ? {} : { checked: node.checked !== 0 }),
    }
  })
}

/** See {@link Backend.readContent}. */
export async function readContent(db: Kysely<Database>, adapter: Adapter, request: ContentRequest): Promise<WriteBatch> {
  const [tasks, values, evaluations, calls, files] = [
    await chunked(adapter, request.tasks, (hashes) => db.selectFrom("task").selectAll().where("hash", "in", hashes).execute()),
    await chunked(adapter, request.values, (hashes) => db.selectFrom("value").selectAll().where("hash", "in", hashes).execute()),
    await chunked(adapter, request.evaluations, (hashes) =>
      db.selectFrom("evaluation").selectAll().where("eval_hash", "in", hashes).execute(),
    ),
    await readCalls(db, adapter, request.calls ?? []),
    await chunked(adapter, request.filesOfCalls, (hashes) =>
      db.selectFrom("file_use").selectAll().where("call_hash", "in", hashes).execute(),
    ),
  ]
  return {
    tasks: tasks.map((t) => ({ hash: bufferToHash(t.hash), name: t.name, source: t.source, version: t.version })),
    values: values.map((v) => ({ hash: bufferToHash(v.hash), bytes: plainBytes(v.bytes) })),
    // With their call hash: the call graph is copied with them.
    evaluations: evaluations.map((e) => ({
      evalHash: bufferToHash(e.eval_hash),
      valueHash: bufferToHash(e.value_hash),
      callHash: e.call_hash === null ? null : bufferToHash(e.call_hash),
      replayable: e.replayable === 1,
    })),
    calls,
    files: files.map((f) => ({
      path: f.path,
      role: f.role as FileUseRecord["role"],
      callHash: bufferToHash(f.call_hash),
      fileHash: bufferToHash(f.file_hash),
      ...(f.execution_id === null ? {} : { executionId: f.execution_id, at: toTimeOrNull(f.started_at) }),
    })),
  }
}

/** Runs `query` over the distinct hashes in chunks the database accepts, as 32-byte keys. */
export async function chunked<T>(
  adapter: Adapter,
  hashes: readonly string[] | undefined,
  query: (chunk: Buffer[]) => Promise<T[]>,
): Promise<T[]> {
  const out: T[] = []
  for (const chunk of chunks([...new Set(hashes ?? [])], adapter.maxParameters)) {
    for (const row of await query(chunk.map(hashToBuffer))) out.push(row)
  }
  return out
}
