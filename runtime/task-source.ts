/**
 * @module task-source
 * A task's function as written in its module, found from the file that called `task()` and the
 * task's name literal: the task hash is taken over it (so Node with tsx, Bun and Deno, whose
 * `fn.toString()` differ for one source, agree), and provenance records it (TypeScript, types and
 * all, rather than compiled JavaScript).
 */
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { type DeclaredTask, readSignatures } from "./task-signatures.js"

/** A task function as written. */
export interface WrittenSource {
  /** The function's text, as in the file. */
  readonly text: string
  /** Its tokens joined by one space: whitespace and comments do not count. */
  readonly canonical: string
  /** The module it was read from (a path or file URL, as the runtime names it). */
  readonly file: string
}

const byFile = new Map<string, ReadonlyMap<string, DeclaredTask | null>>()

/**
 * The function of task `name` as written in `file`, the module that called `task()`; undefined
 * when that file cannot be read or does not declare the task once as `task("name", fn)` with a
 * literal name and function (a computed name, a function passed by variable, a task declared in
 * a loop).
 *
 * @example
 * writtenSource("inc", import.meta.url)?.canonical   // "( x : number ) => x + 1"
 */
export function writtenSource(name: string, namespace: string | undefined, file: string | undefined): WrittenSource | undefined {
  if (file === undefined || file.startsWith("node:") || file.startsWith("data:")) return undefined
  let declared = byFile.get(file)
  if (declared === undefined) byFile.set(file, (declared = declarationsIn(file)))
  const found = declared.get(namespace === undefined ? name : `${namespace}.${name}`)
  if (found === undefined || found === null || found.written.canonical === "") return undefined
  return { text: found.written.text, canonical: found.written.canonical, file }
}

/** Each task declared in a file by full name; null for a name declared more than once. */
function declarationsIn(file: string): ReadonlyMap<string, DeclaredTask | null> {
  const declared = new Map<string, DeclaredTask | null>()
  let source: string
  try {
    source = readFileSync(file.startsWith("file:") ? fileURLToPath(file) : file, "utf8")
  } catch {
    return declared
  }
  // A bundle or a large generated module: not worth tokenizing at every start.
  if (source.length > 4 * 1024 * 1024 || !source.includes("task")) return declared
  for (const task of readSignatures(source).tasks) {
    const fullName = task.namespace === undefined ? task.name : `${task.namespace}.${task.name}`
    declared.set(fullName, declared.has(fullName) ? null : task)
  }
  return declared
}
