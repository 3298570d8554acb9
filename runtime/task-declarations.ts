/**
 * @module task-declarations
 * Which module declared each task (one stack frame read per declaration), remembered only while
 * the command line loads a workflow: `reductio run` reads the parameter types of a task from
 * that module's source.
 */

import { sep } from "node:path"
import { fileURLToPath } from "node:url"

const MODE_KEY = Symbol.for("reductio.mode")
const DECLARATIONS_KEY = Symbol.for("reductio.declarations")
const declarations: Map<string, string> = ((globalThis as unknown as Record<symbol, Map<string, string> | undefined>)[DECLARATIONS_KEY] ??=
  new Map())

/**
 * Where this kernel's own modules live: `…/runtime/` and `…/dist/` of its package (Deno maps the
 * built files' frames back to the sources), or this file alone when it is bundled elsewhere.
 */
const KERNEL_PREFIXES = ((url: string) => {
  const path = url.startsWith("file:") ? fileURLToPath(url) : url
  const built = path.lastIndexOf(`${sep}dist${sep}runtime${sep}`)
  const source = path.lastIndexOf(`${sep}runtime${sep}`)
  const root = built >= 0 ? path.slice(0, built) : source >= 0 ? path.slice(0, source) : undefined
  return root === undefined ? [path] : [`${root}${sep}runtime${sep}`, `${root}${sep}dist${sep}`]
})(import.meta.url)

/**
 * The module (file URL or path) whose code declared a task: the first frame of the stack outside
 * the kernel; undefined when the runtime does not name one. Frames are not matched by function:
 * Bun compiles `const x = f(); return x` into a tail call, whose caller's frame is then gone.
 */
export function declaringModule(): string | undefined {
  const holder: { stack?: unknown } = {}
  const { prepareStackTrace, stackTraceLimit } = Error
  let frames: unknown
  try {
    Error.stackTraceLimit = 12
    Error.prepareStackTrace = (_error, callSites) => callSites
    Error.captureStackTrace(holder, declaringModule)
    // The stack is formatted when first read: read it while the override is in place.
    frames = holder.stack
  } finally {
    Error.prepareStackTrace = prepareStackTrace
    Error.stackTraceLimit = stackTraceLimit
  }
  if (!Array.isArray(frames)) return undefined
  for (const frame of frames as NodeJS.CallSite[]) {
    const file = frame.getFileName?.()
    if (typeof file !== "string" || file === "") continue
    const path = file.startsWith("file:") ? fileURLToPath(file) : file
    if (!KERNEL_PREFIXES.some((prefix) => path.startsWith(prefix))) return file
  }
  return undefined
}

/**
 * Remembers the module that declared a task, only while the command line loads a workflow: it
 * reads the task's parameter types from that module's source for `--help` and flag parsing.
 */
export function recordDeclaration(name: string, file: string | undefined): void {
  if ((globalThis as unknown as Record<symbol, unknown>)[MODE_KEY] !== "cli") return
  if (file !== undefined) declarations.set(name, file)
}

/** The module (file URL or path) each task was declared in, as recorded by the command line. */
export function taskDeclarations(): ReadonlyMap<string, string> {
  return declarations
}
