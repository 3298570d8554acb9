/**
 * @module log-lineage
 * `reductio log --file <uri>`: which calls produced a file and which consumed it, and upstream,
 * for each producer, the Files its arguments held and the calls that produced those very
 * versions (by file hash), transitively.
 */
import { resolve } from "node:path"
import type { Backend, FileUseRecord } from "../backend/backend.js"
import { ReductioError } from "../errors.js"
import type { CliIo } from "./io.js"
import { formatTime, ValuePreviews } from "./log-format.js"

export type FileUse = NonNullable<Awaited<ReturnType<NonNullable<Backend["fileUses"]>>>>[number]

/** One producing call with the producers of its input files. */
export interface Upstream {
  readonly use: FileUse
  readonly args: string
  readonly inputs: readonly { readonly path: string; readonly fileHash: string; readonly producers: readonly Upstream[] }[]
}

/** How deep upstream lineage goes, how many producers of one file it follows, and of calls in all. */
const MAX_DEPTH = 8
const MAX_PRODUCERS = 5
const MAX_NODES = 200

export async function printLineage(io: CliIo, backend: Backend, uri: string, json: boolean): Promise<void> {
  if (backend.fileUses === undefined) throw new ReductioError("INVALID_ARGUMENT", `${backend.description} does not record file lineage`)
  const path = /^[a-z][a-z0-9+.-]*:\/\//i.test(uri) ? uri : resolve(io.cwd, uri)
  const { uses, upstream, previews } = await fileLineage(backend, path)
  const consumers = uses.filter((use) => use.role === "input")
  if (json) {
    io.out(`${JSON.stringify({ path, uses, upstream }, null, 2)}\n`)
    return
  }
  if (uses.length === 0) {
    io.out(`no call recorded ${path}\n`)
    return
  }
  const lines = [path, "produced by:"]
  if (upstream.length === 0) lines.push("  (no recorded call)")
  for (const node of upstream) lines.push(...upstreamLines(node, 1))
  lines.push("consumed by:")
  if (consumers.length === 0) lines.push("  (no recorded call)")
  for (const use of consumers) lines.push(`  ${useLine(use, await argsOf(backend, previews, use.callHash))}`)
  io.out(`${lines.join("\n")}\n`)
}

/**
 * A file's lineage: every recorded use (newest first) and, for its producers, the calls upstream
 * (bounded: depth 8, 5 producers a file, 200 calls in all).
 */
export async function fileLineage(
  backend: Backend,
  path: string,
): Promise<{ uses: FileUse[]; upstream: Upstream[]; previews: ValuePreviews }> {
  if (backend.fileUses === undefined) throw new ReductioError("INVALID_ARGUMENT", `${backend.description} does not record file lineage`)
  const uses = await backend.fileUses(path)
  const previews = new ValuePreviews(backend)
  const producers = uses.filter((use) => use.role === "output").slice(0, MAX_PRODUCERS)
  const budget = { nodes: MAX_NODES }
  const upstream = await Promise.all(producers.map((use) => traceUpstream(backend, previews, use, new Set(), budget)))
  return { uses, upstream, previews }
}

/** Arguments of a recorded call, previewed in `width` characters ("" when not recorded). */
export async function callArgsPreview(backend: Backend, previews: ValuePreviews, callHash: string, width = 80): Promise<string> {
  return argsOf(backend, previews, callHash, width)
}

function useLine(use: FileUse, args: string): string {
  const where = use.executionId === null ? "" : `  execution ${use.executionId}`
  const when = use.at === null ? "" : `  ${formatTime(use.at)}`
  return `${use.taskName} (${args})  call ${use.callHash.slice(0, 12)}  file ${use.fileHash.slice(0, 12)}${where}${when}`
}

function upstreamLines(node: Upstream, depth: number): string[] {
  const pad = "  ".repeat(depth)
  const lines = [`${pad}${useLine(node.use, node.args)}`]
  for (const input of node.inputs) {
    const from = input.producers.length === 0 ? "  (not produced by a recorded call)" : ", produced by:"
    lines.push(`${pad}  from ${input.path} (file ${input.fileHash.slice(0, 12)})${from}`)
    for (const producer of input.producers) lines.push(...upstreamLines(producer, depth + 2))
  }
  return lines
}

/**
 * A producing call and, for each File it consumed, the calls that produced that version. A call
 * among its own ancestors (a cycle) is not followed again.
 */
async function traceUpstream(
  backend: Backend,
  previews: ValuePreviews,
  use: FileUse,
  ancestors: ReadonlySet<string>,
  budget: { nodes: number },
): Promise<Upstream> {
  const args = await argsOf(backend, previews, use.callHash)
  budget.nodes--
  if (ancestors.size >= MAX_DEPTH || budget.nodes <= 0 || backend.readContent === undefined) return { use, args, inputs: [] }
  const above = new Set([...ancestors, use.callHash])
  const { files = [] } = await backend.readContent({ filesOfCalls: [use.callHash] })
  const inputs = await Promise.all(
    dedupe(files.filter((file) => file.role === "input")).map(async (input) => {
      const candidates = ((await backend.fileUses?.(input.path)) ?? []).filter(
        (other) => other.role === "output" && other.fileHash === input.fileHash && !above.has(other.callHash),
      )
      const producers = await Promise.all(
        candidates.slice(0, MAX_PRODUCERS).map((producer) => traceUpstream(backend, previews, producer, above, budget)),
      )
      return { path: input.path, fileHash: input.fileHash, producers }
    }),
  )
  return { use, args, inputs }
}

function dedupe(files: readonly FileUseRecord[]): FileUseRecord[] {
  const byKey = new Map<string, FileUseRecord>()
  for (const file of files) byKey.set(`${file.path}\u0000${file.fileHash}`, file)
  return [...byKey.values()]
}

async function argsOf(backend: Backend, previews: ValuePreviews, callHash: string, width = 80): Promise<string> {
  const call = await backend.getCall?.(callHash)
  if (call === undefined) return ""
  await previews.load([call.argsHash], [call])
  const task = await backend.getTask?.(call.taskHash)
  return previews.args({ argsHash: call.argsHash, taskName: task?.name ?? "" }, width)
}
