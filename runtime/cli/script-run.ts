/**
 * @module script-run
 * What `await run(main, ...args)` does in a script started with `tsx workflow.ts`.
 */
import { loadConfig } from "../config/load-config.js"
import { exitCodeOf } from "../errors.js"
import type { Task } from "../task.js"
import { processIo } from "./io.js"
import { formatFailure, formatValue } from "./output.js"
import { automaticTags } from "./run-tags.js"
import { progressModeFor, runSession } from "./session.js"

/**
 * Runs `entry(...args)` with the project's configuration; prints the result, or prints the error
 * and exits with its code. `REDUCTIO_NO_CACHE=1` and `REDUCTIO_QUIET=1` stand in for the CLI flags.
 */
export async function runScript(entry: Task, args: readonly unknown[]): Promise<unknown> {
  const io = processIo()
  const workflowPath = process.argv[1]
  try {
    const loaded = await loadConfig(io.cwd, io.env)
    const result = await runSession({
      io,
      loaded,
      expression: entry(...args),
      command: ["script", workflowPath ?? "?", entry.taskName].join(" "),
      workflowPath,
      cache: io.env.REDUCTIO_NO_CACHE !== "1",
      progress: progressModeFor(io, io.env.REDUCTIO_QUIET === "1"),
      ...(workflowPath === undefined ? {} : { tags: automaticTags(workflowPath) }),
    })
    if (!result.ok) {
      io.err(`${formatFailure(result.error)}\n`)
      process.exit(exitCodeOf(result.error))
    }
    const value = "value" in result ? result.value : undefined
    io.out(`${formatValue(value)}\n`)
    return value
  } catch (error) {
    io.err(`${formatFailure(error)}\n`)
    process.exit(exitCodeOf(error))
  }
}
