/**
 * @module kysely-call-graph
 * The SQL backends' reads of the call graph and of content-addressed rows: a call tree for call
 * replay (one recursive query for its calls, one more for its edges when asked), call records with their edges, and the content `push`/`pull`
 * copies between databases.
 */
import { type Kysely, type RawBuilder, sql } from "kysely"
import type { CallRecord, CallTree, ContentRequest, FileUseRecord, TreeCall, WriteBatch } from "./backend.js"
import type { SqlDialectAdapter } from "./kysely-backend.js"
import { CHILDREN_PER_ROW } from "./migrations.js"
import type { Database } from "./schema.js"
import { valueHashOf } from "../hashing.js"
import { bufferToHash, chunks, hashToBuffer, plainBytes, toTimeOrNull } from "./sql-rows.js"

type Adapter = Pick<SqlDialectAdapter, "hex" | "joinText" | "maxParameters">

/**
 * See {@link Backend.loadCallTree}. One recursive query reads every call below the root with its
 * node, as a few long texts (a 100,000-call fan-out is 256 texts, not 100,000 rows); only when some
 * call may hold something to check (a File) does a second query read those values, and the edges
 * are read only when a replay asks for them (it does when some call fails a check).
 */
export async function loadCallTree(db: Kysely<Database>, adapter: Adapter, callHash: string): Promise<CallTree | undefined> {
  const root = hashToBuffer(callHash)
  const node = await db
    .selectFrom("call_node")
    .leftJoin("small_value", "small_value.hash", "call_node.value_hash")
    .leftJoin("value", "value.hash", "call_node.value_hash")
    .select(["call_node.value_hash", "call_node.value_bytes", valueBytes().as("bytes"), "call_node.checked"])
    .where("call_node.call_hash", "=", root)
    .executeTakeFirst()
  const rootBytes = node?.value_bytes ?? node?.bytes ?? null
  const rootHash = node === undefined ? null : nodeValueHash(node.value_hash, node.value_bytes)
  if (node === undefined || rootHash === null || rootBytes === null) return undefined
  // Each call as one fixed-layout text (`call:task:args:checked value`; a call that may hold a
  // File keeps its value hash in its node, see migration 0014), joined by the database
  // into one text per first byte of the call hash: a 100,000-call tree comes back as 256 strings,
  // not 100,000 rows of four (about half the time, and a bounded string however large the tree).
  const field = (column: string) => sql`coalesce(${adapter.hex(column)}, '')`
  const query = sql<{ calls: string }>`
    with recursive ${descendants(root)}
    select ${adapter.joinText(sql`${field("t.hash")} || ':' || ${field("c.task_hash")} || ':' || ${field("c.args_hash")} || ':' ||
      case when c.checked = 0 then '' else ${field("c.value_hash")} end`)} as calls
    from tree t left join call_node c on c.call_hash = t.hash
    group by substr(t.hash, 1, 1)`
  const calls: TreeCall[] = []
  const toCheck = new Set<string>()
  const checkedCalls: string[] = []
  for (const { calls: joined } of (await query.execute(db)).rows) {
    for (let start = 0; start < joined.length; ) {
      const comma = joined.indexOf(",", start)
      const end = comma === -1 ? joined.length : comma
      const call = parseTreeCall(joined, start, end)
      // A call without its node (a partial copy) cannot be checked: no replay.
      if (call === undefined) return undefined
      calls.push(call)
      if (end - start === CHECKED_CALL_TEXT) {
        toCheck.add(joined.slice(start + CALL_TEXT, end)).add(call.argsHash)
        checkedCalls.push(call.callHash)
      }
      start = end + 1
    }
  }
  const checkedValues = await readValues(db, adapter, [...toCheck], checkedCalls)
  // A value to check that is not recorded (a partial copy): no replay.
  if (checkedValues === undefined) return undefined
  return {
    valueHash: rootHash,
    bytes: plainBytes(rootBytes),
    calls,
    checkedValues,
    rootChecked: node.checked !== 0,
    ...(node.value_bytes === null ? {} : { valueInCall: true }),
    edges: () => loadTreeEdges(db, adapter, root),
  }
}

/** Every parent → child edge below `root`, for a replay that must place a failing call. */
async function loadTreeEdges(db: Kysely<Database>, adapter: Adapter, root: Buffer): Promise<[string, string][]> {
  const query = sql<{ parent_hash: string; child_hash: Uint8Array }>`
    with recursive ${descendants(root)}
    select ${adapter.hex("e.parent_hash")} as parent_hash, ${childAt("e", "s")} as child_hash
    from call_children e join slot s on ${inRow("e", "s")}
    where e.parent_hash = ${root} or e.parent_hash in (select hash from tree)`
  return (await query.execute(db)).rows.map((row) => [row.parent_hash, bufferToHash(row.child_hash)])
}

/** The length of a call's text in the tree query: three hex hashes, each followed by its separator. */
const CALL_TEXT = 3 * 64 + 3
/** The length of a call's text when it names a value to check: one hash more. */
const CHECKED_CALL_TEXT = CALL_TEXT + 64

/** The call in `text` from `start` to `end`; undefined when a hash is missing (no node recorded). */
function parseTreeCall(text: string, start: number, end: number): TreeCall | undefined {
  const length = end - start
  if (length !== CALL_TEXT && length !== CHECKED_CALL_TEXT) return undefined
  if (text[start + 64] !== ":" || text[start + 129] !== ":" || text[start + 194] !== ":") return undefined
  return {
    callHash: text.slice(start, start + 64),
    taskHash: text.slice(start + 65, start + 129),
    argsHash: text.slice(start + 130, start + 194),
  }
}

/**
 * The bytes of every value in `hashes`, stored by hash or in the rows of `calls`; undefined when
 * one is not recorded.
 */
async function readValues(
  db: Kysely<Database>,
  adapter: Adapter,
  hashes: readonly string[],
  calls: readonly string[],
): Promise<Uint8Array[] | undefined> {
  const found = await findValues(db, adapter, hashes, calls)
  const bytes: Uint8Array[] = []
  for (const hash of new Set(hashes)) {
    const value = found.get(hash)
    if (value === undefined) return undefined
    bytes.push(value)
  }
  return bytes
}

/** The arguments and values that the rows of these calls hold (migration 0012), by hex hash. */
export async function valuesInCalls(
  db: Kysely<Database>,
  adapter: Adapter,
  callHashes: readonly string[],
): Promise<Map<string, Uint8Array>> {
  const rows = await chunked(adapter, callHashes, (hashes) =>
    db
      .selectFrom("call_node")
      .select(["args_hash", "args_bytes", "value_hash", "value_bytes"])
      .where("call_hash", "in", hashes)
      .where((eb) => eb.or([eb("args_bytes", "is not", null), eb("value_bytes", "is not", null)]))
      .execute(),
  )
  const found = new Map<string, Uint8Array>()
  for (const row of rows) {
    if (row.args_bytes !== null) found.set(bufferToHash(row.args_hash), plainBytes(row.args_bytes))
    if (row.value_bytes !== null) found.set(nodeValueHash(row.value_hash, row.value_bytes) as string, plainBytes(row.value_bytes))
  }
  return found
}

/**
 * The bytes of the values in `hashes` that are stored by hash, by hex hash: from `small_value` or
 * `value` (migration 0010), whichever holds each. A call's small value is in its own row instead
 * (migration 0012, {@link valuesInCalls}).
 */
export async function valuesByHash(db: Kysely<Database>, adapter: Adapter, hashes: readonly string[]): Promise<Map<string, Uint8Array>> {
  const found = new Map<string, Uint8Array>()
  for (const table of ["small_value", "value"] as const) {
    const wanted = found.size === 0 ? hashes : hashes.filter((hash) => !found.has(hash))
    const rows = await chunked(adapter, wanted, (chunk) =>
      db.selectFrom(table).select(["hash", "bytes"]).where("hash", "in", chunk).execute(),
    )
    for (const row of rows) found.set(bufferToHash(row.hash), plainBytes(row.bytes))
  }
  return found
}

/**
 * A value's bytes in a query that left-joins both `small_value` and `value` on its hash (null
 * when neither holds it).
 */
export function valueBytes(): RawBuilder<Buffer | null> {
  return sql<Buffer | null>`coalesce(small_value.bytes, value.bytes)`
}

/**
 * `slot(i)`: 0 to CHILDREN_PER_ROW - 1, the places of a `call_children` row; and `tree(hash)`:
 * every call below `root`. UNION (not UNION ALL) visits a shared call once.
 */
function descendants(root: Buffer) {
  return sql`slot(i) as (
      select 0 union all select i + 1 from slot where i + 1 < ${sql.lit(CHILDREN_PER_ROW)}
    ),
    tree(hash) as (
      select ${childAt("e", "s")} from call_children e join slot s on ${inRow("e", "s")} where e.parent_hash = ${root}
      union
      select ${childAt("e", "s")} from tree t join call_children e on e.parent_hash = t.hash join slot s on ${inRow("e", "s")}
    )`
}

/** The child hash at slot `s` of the `call_children` row `e`. */
function childAt(e: string, s: string) {
  return sql.raw(`substr(${e}.children, ${s}.i * 32 + 1, 32)`)
}

/** Whether slot `s` of row `e` holds a child (a parent's last row may hold fewer). */
function inRow(e: string, s: string) {
  return sql.raw(`${s}.i * 32 < length(${e}.children)`)
}

/** Call records (node and ordered children) of the given call hashes; absent ones are left out. */
export async function readCalls(db: Kysely<Database>, adapter: Adapter, callHashes: readonly string[]): Promise<CallRecord[]> {
  const nodes = await chunked(adapter, callHashes, (hashes) =>
    db.selectFrom("call_node").selectAll().where("call_hash", "in", hashes).execute(),
  )
  const packed = await chunked(adapter, callHashes, (hashes) =>
    db.selectFrom("call_children").selectAll().where("parent_hash", "in", hashes).execute(),
  )
  const children = new Map<string, string[]>()
  for (const row of packed.sort((a, b) => a.position - b.position)) {
    const parent = bufferToHash(row.parent_hash)
    let list = children.get(parent)
    if (list === undefined) children.set(parent, (list = []))
    const bytes = plainBytes(row.children)
    for (let at = 0; at + 32 <= bytes.byteLength; at += 32) list.push(bufferToHash(bytes.subarray(at, at + 32)))
  }
  return nodes.map((node) => {
    const callHash = bufferToHash(node.call_hash)
    return {
      callHash,
      taskHash: bufferToHash(node.task_hash),
      argsHash: bufferToHash(node.args_hash),
      valueHash: nodeValueHash(node.value_hash, node.value_bytes) as string,
      children: children.get(callHash) ?? [],
      ...(node.checked === null ? {} : { checked: node.checked !== 0 }),
      ...(node.args_bytes === null ? {} : { argsBytes: plainBytes(node.args_bytes) }),
      ...(node.value_bytes === null ? {} : { valueBytes: plainBytes(node.value_bytes) }),
    }
  })
}

/** See {@link Backend.readContent}. */
export async function readContent(db: Kysely<Database>, adapter: Adapter, request: ContentRequest): Promise<WriteBatch> {
  const [tasks, values, evaluations, calls, files] = [
    await chunked(adapter, request.tasks, (hashes) => db.selectFrom("task").selectAll().where("hash", "in", hashes).execute()),
    await findValues(db, adapter, request.values ?? [], request.valuesOfCalls ?? []),
    // An evaluation without a value hash (migration 0010) has its call node's, which is that of
    // the node's bytes when the node names none (0014).
    await chunked(adapter, request.evaluations, (hashes) =>
      db
        .selectFrom("evaluation")
        .leftJoin("call_node", "call_node.call_hash", "evaluation.call_hash")
        .select([
          "evaluation.eval_hash",
          sql<Buffer | null>`coalesce(evaluation.value_hash, call_node.value_hash)`.as("value_hash"),
          sql<Buffer | null>`case when evaluation.value_hash is null then call_node.value_bytes end`.as("value_bytes"),
          "evaluation.call_hash",
          "evaluation.replayable",
        ])
        .where("evaluation.eval_hash", "in", hashes)
        .execute(),
    ),
    await readCalls(db, adapter, request.calls ?? []),
    await chunked(adapter, request.filesOfCalls, (hashes) =>
      db.selectFrom("file_use").selectAll().where("call_hash", "in", hashes).execute(),
    ),
  ]
  return {
    tasks: tasks.map((t) => ({ hash: bufferToHash(t.hash), name: t.name, source: t.source, version: t.version })),
    values: [...values].map(([hash, bytes]) => ({ hash, bytes })),
    // With their call hash: the call graph is copied with them. One whose call node is missing
    // (a partial copy) has no value to copy and is left out.
    evaluations: evaluations.flatMap((e) => {
      const valueHash = nodeValueHash(e.value_hash, e.value_bytes)
      return valueHash === null
        ? []
        : [
            {
              evalHash: bufferToHash(e.eval_hash),
              valueHash,
              callHash: e.call_hash === null ? null : bufferToHash(e.call_hash),
              replayable: e.replayable === 1,
            },
          ]
    }),
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

/**
 * The values in `hashes` that are recorded, by hex hash: held by the rows of `calls` (migration
 * 0012), else stored under their hashes.
 */
export async function findValues(
  db: Kysely<Database>,
  adapter: Adapter,
  hashes: readonly string[],
  calls: readonly string[],
): Promise<Map<string, Uint8Array>> {
  const wanted = new Set(hashes)
  const found = new Map<string, Uint8Array>()
  if (wanted.size === 0) return found
  if (calls.length > 0) {
    for (const [hash, bytes] of await valuesInCalls(db, adapter, calls)) if (wanted.has(hash)) found.set(hash, bytes)
  }
  const rest = [...wanted].filter((hash) => !found.has(hash))
  for (const [hash, bytes] of await valuesByHash(db, adapter, rest)) found.set(hash, bytes)
  return found
}

/**
 * A call node's value hash: its own, else (migration 0014) the hash of the value bytes it holds;
 * null when it has neither.
 */
export function nodeValueHash(hash: Uint8Array | null, bytes: Uint8Array | null): string | null {
  return hash !== null ? bufferToHash(hash) : bytes !== null ? valueHashOf(bytes) : null
}

/**
 * An evaluation's value from its own value hash, its call node's hash and bytes, and the bytes
 * stored under the value hash: the node's when the value is the node's (the evaluation names no
 * hash of its own, or the node's), else the stored bytes, else the node's when they hash to the
 * evaluation's (a node written with its value's hash left out, 0014); undefined when not recorded.
 */
export function evaluationValue(
  own: string | null,
  node: string | null,
  nodeBytes: Uint8Array | null,
  stored: Uint8Array | null,
): { valueHash: string; bytes: Uint8Array; inCall: boolean } | undefined {
  if (own === null || own === node) {
    const valueHash = own ?? node ?? (nodeBytes === null ? null : valueHashOf(nodeBytes))
    const bytes = nodeBytes ?? stored
    return valueHash === null || bytes === null ? undefined : { valueHash, bytes, inCall: nodeBytes !== null }
  }
  if (stored !== null) return { valueHash: own, bytes: stored, inCall: false }
  if (node === null && nodeBytes !== null && valueHashOf(nodeBytes) === own) return { valueHash: own, bytes: nodeBytes, inCall: true }
  return undefined
}

/** Runs `query` over the distinct hashes in chunks the database accepts, as 32-byte keys. */
export async function chunked<T>(
  adapter: Pick<SqlDialectAdapter, "maxParameters">,
  hashes: readonly string[] | undefined,
  query: (chunk: Buffer[]) => Promise<T[]>,
): Promise<T[]> {
  const out: T[] = []
  for (const chunk of chunks([...new Set(hashes ?? [])], adapter.maxParameters)) {
    for (const row of await query(chunk.map(hashToBuffer))) out.push(row)
  }
  return out
}
