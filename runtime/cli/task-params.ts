/**
 * @module task-params
 * What the command line knows of a task's parameters: names (from the function), types, defaults
 * and docs (from the TypeScript source of the module that declared the task, read once and
 * cached on disk by the source's hash), overridden by the task's `params` option. Used only to
 * parse `reductio run` flags and to print `--help`; nothing of it runs during a run.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { privateCacheDir } from "../config/typescript-loader.js"
import { sha256 } from "../hashing.js"
import { type ParamSchema, type TaskDefinition, taskDeclarations, taskParameters } from "../task.js"
import { type ParamType, paramTypeFromName, paramTypeOf } from "./param-types.js"
import { type DeclaredTask, readSignatures, type SourceSignatures } from "../task-signatures.js"

/** One parameter as the command line parses it. */
export interface ParamSpec {
  readonly name: string
  readonly type: ParamType
  /** Has a default, `?`, or is a rest parameter. */
  readonly optional: boolean
  readonly rest: boolean
  /** The annotation as written in the source, if any. */
  readonly typeText?: string | undefined
  readonly defaultText?: string | undefined
  readonly doc?: string | undefined
}

/** A task's parameters and description, for the command line. */
export interface TaskSpec {
  readonly params: readonly ParamSpec[]
  readonly doc?: string | undefined
}

/** Bumped when the cached form of read signatures changes. */
const SIGNATURE_FORMAT = "2"
const specs = new WeakMap<TaskDefinition, TaskSpec>()
const bySource = new Map<string, SourceSignatures>()

/**
 * The parameters of a task: runtime names, declared types and docs, `params` overrides.
 *
 * @example
 * taskSpec(lookupTask("main")).params.map((p) => p.name)
 */
export function taskSpec(task: TaskDefinition): TaskSpec {
  const known = specs.get(task)
  if (known !== undefined) return known
  const signatures = sourceSignaturesOf(taskDeclarations().get(task.name))
  const declared = signatures === undefined ? undefined : declaredTask(task, signatures)
  const schema = task.options.params ?? {}
  const params = taskParameters(task.fn).map((parameter, index): ParamSpec => {
    const fromSource = declared?.parameters[index]
    const source =
      fromSource !== undefined && (fromSource.name === parameter.name || fromSource.name.startsWith("arg")) ? fromSource : undefined
    const entry = schema[parameter.name]
    const explicit: ParamSchema | undefined = typeof entry === "string" ? { type: entry } : entry
    const type =
      explicit?.type !== undefined || explicit?.choices !== undefined
        ? paramTypeFromName(explicit.type ?? "string", explicit.choices)
        : paramTypeOf(source?.type, source?.defaultText, signatures?.aliases ?? {})
    return {
      name: parameter.name,
      type,
      optional: parameter.optional || source?.optional === true,
      rest: source?.rest === true,
      typeText: explicit?.type ?? source?.type,
      defaultText: source?.defaultText,
      doc: explicit?.doc ?? source?.doc,
    }
  })
  const spec: TaskSpec = { params, doc: declared?.doc }
  specs.set(task, spec)
  return spec
}

/** The declaration of `task` among a file's, matched by name literal and namespace. */
function declaredTask(task: TaskDefinition, signatures: SourceSignatures): DeclaredTask | undefined {
  const namespace = task.options.namespace
  const short = namespace === undefined ? task.name : task.name.slice(namespace.length + 1)
  const candidates = signatures.tasks.filter((declared) => declared.name === short)
  if (candidates.length <= 1) return candidates[0]
  const exact = candidates.filter((declared) => declared.namespace === namespace)
  return exact.length === 1 ? exact[0] : undefined
}

/** The signatures of a module's source, from memory, the disk cache, or by reading it. */
function sourceSignaturesOf(module: string | undefined): SourceSignatures | undefined {
  if (module === undefined || module.startsWith("node:") || module.startsWith("data:")) return undefined
  let source: string
  try {
    source = readFileSync(module.startsWith("file:") ? fileURLToPath(module) : module, "utf8")
  } catch {
    return undefined
  }
  const key = sha256(`${SIGNATURE_FORMAT}\u0000${source}`)
  const known = bySource.get(key)
  if (known !== undefined) return known
  const signatures = readCached(key) ?? writeCached(key, readSignatures(source))
  bySource.set(key, signatures)
  return signatures
}

function readCached(key: string): SourceSignatures | undefined {
  const dir = privateCacheDir("signatures")
  if (dir === null) return undefined
  try {
    const cached = JSON.parse(readFileSync(join(dir, `${key}.json`), "utf8")) as Partial<SourceSignatures> | null
    const wellFormed = Array.isArray(cached?.tasks) && typeof cached?.aliases === "object" && cached.aliases !== null
    return wellFormed ? (cached as SourceSignatures) : undefined
  } catch {
    return undefined
  }
}

function writeCached(key: string, signatures: SourceSignatures): SourceSignatures {
  const dir = privateCacheDir("signatures")
  if (dir === null) return signatures
  try {
    mkdirSync(dir, { recursive: true })
    const temporary = join(dir, `${key}.${process.pid}.tmp`)
    writeFileSync(temporary, JSON.stringify(signatures))
    renameSync(temporary, join(dir, `${key}.json`))
  } catch {
    // A cache that cannot be written only costs reading the source again next time.
  }
  return signatures
}
