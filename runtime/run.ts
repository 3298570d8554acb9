/**
 * @module run
 * `run(task, ...args)` for single-file scripts: `await run(main, 10)` at the top level runs the
 * workflow with the project's configuration, shows progress, prints the result and sets the exit
 * code. When the CLI (`reductio run`) or the agent loads the file, it does nothing.
 */
import type { Resolved } from "./expression.js"
import type { LazilyArgs, Task } from "./task.js"

/** `globalThis` key telling how the current process loaded the workflow: "cli" or "agent". */
export const MODE_KEY = Symbol.for("reductio.mode")
/** `globalThis` key where the CLI finds the task a script's `run()` names. */
export const ENTRY_KEY = Symbol.for("reductio.entry")
/** `globalThis` key of the workflow file the CLI loaded (`script({ cwd })` resolves against its directory). */
export const WORKFLOW_KEY = Symbol.for("reductio.workflowPath")

/** The task and arguments a script's top-level `run()` asked for. */
export interface ScriptEntry {
  readonly task: Task
  readonly args: readonly unknown[]
}

/**
 * Runs a task as a script: config from `reductio.config.ts`, the default SQLite database, live
 * progress, the result printed. Resolves to the value; on failure prints the error and exits 1.
 * A no-op (resolving to undefined) when the module is loaded by `reductio run` or the agent.
 *
 * @example
 * const main = task("main", (n: number) => ...)
 * await run(main, 10)
 */
export async function run<A extends unknown[], R>(entry: Task<A, R>, ...args: LazilyArgs<A>): Promise<Resolved<Awaited<R>>> {
  const globals = globalThis as unknown as Record<symbol, unknown>
  const mode = globals[MODE_KEY]
  if (mode === "agent") return undefined as never
  if (mode === "cli") {
    globals[ENTRY_KEY] ??= { task: entry as unknown as Task, args } satisfies ScriptEntry
    return undefined as never
  }
  const { runScript } = await import("./cli/script-run.js")
  return (await runScript(entry as unknown as Task, args)) as Resolved<Awaited<R>>
}
