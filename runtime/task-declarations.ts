/**
 * @module task-declarations
 * Which module declared each task, recorded only while the command line loads a workflow (one
 * stack frame read per declaration): `reductio run` reads the parameter types of a task from
 * that module's source.
 */

const MODE_KEY = Symbol.for("reductio.mode")
const DECLARATIONS_KEY = Symbol.for("reductio.declarations")
const declarations: Map<string, string> = ((globalThis as unknown as Record<symbol, Map<string, string> | undefined>)[DECLARATIONS_KEY] ??=
  new Map())

/**
 * Remembers the module that declared a task, only while the command line loads a workflow: it
 * reads the task's parameter types from that module's source for `--help` and flag parsing.
 */
export function recordDeclaration(name: string, declare: (...args: never[]) => unknown): void {
  if ((globalThis as unknown as Record<symbol, unknown>)[MODE_KEY] !== "cli") return
  const holder: { stack?: unknown } = {}
  const { prepareStackTrace, stackTraceLimit } = Error
  let frames: unknown
  try {
    Error.stackTraceLimit = 1
    Error.prepareStackTrace = (_error, callSites) => callSites
    Error.captureStackTrace(holder, declare)
    // The stack is formatted when first read: read it while the override is in place.
    frames = holder.stack
  } finally {
    Error.prepareStackTrace = prepareStackTrace
    Error.stackTraceLimit = stackTraceLimit
  }
  const file = Array.isArray(frames) ? (frames[0] as NodeJS.CallSite | undefined)?.getFileName?.() : undefined
  if (typeof file === "string") declarations.set(name, file)
}

/** The module (file URL or path) each task was declared in, as recorded by the command line. */
export function taskDeclarations(): ReadonlyMap<string, string> {
  return declarations
}
