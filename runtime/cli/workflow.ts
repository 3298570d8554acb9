/**
 * @module workflow
 * Loads a workflow file for the CLI: TypeScript through tsx, with `run()` calls inside turned into
 * a record of the entry point instead of a run.
 */
import { existsSync } from "node:fs"
import { basename, dirname, join, resolve } from "node:path"
import { pathToFileURL } from "node:url"
import { ReductioError, isReductioError } from "../errors.js"
import { nearestPackageJson } from "../config/package-json.js"
import { ensureTypeScriptLoader } from "../config/typescript-loader.js"
import { ENTRY_KEY, MODE_KEY, type ScriptEntry, WORKFLOW_KEY } from "../run.js"
import { isTask, type Task } from "../task.js"

/** A loaded workflow module. */
export interface LoadedWorkflow {
  readonly path: string
  /** The task and arguments of the script's own top-level `run(task, ...args)`, if it has one. */
  readonly entry: ScriptEntry | undefined
  /** The module's exported tasks, by export name. */
  readonly exportedTasks: ReadonlyMap<string, Task>
}

/**
 * What to change when a workflow was loaded as CommonJS: `npm init -y` writes `"type": "commonjs"`,
 * and a CommonJS workflow cannot import reductio (an ES module with top-level await) in a cycle.
 */
function commonJsHint(path: string): string {
  const found = nearestPackageJson(dirname(path))
  const where = found === undefined ? "a package.json beside the workflow" : join(found.dir, "package.json")
  const now = found?.json.type === undefined ? 'has no "type"' : `says "type": ${JSON.stringify(found.json.type)}`
  return (
    ` (workflows are ES modules, and ${where} ${found === undefined ? "is missing" : now}: set "type": "module" there ` +
    `(\`npm pkg set type=module\`), or rename the workflow to ${basename(path).replace(/\.(c|m)?ts$/, "")}.mts)`
  )
}

/** Imports a workflow file; WORKFLOW_NOT_FOUND or WORKFLOW_LOAD_FAILED when it cannot. */
export async function loadWorkflow(file: string, cwd: string): Promise<LoadedWorkflow> {
  const path = resolve(cwd, file)
  if (!existsSync(path)) {
    throw new ReductioError("WORKFLOW_NOT_FOUND", `workflow file ${file} does not exist (looked for ${path})`)
  }
  const globals = globalThis as unknown as Record<symbol, unknown>
  let module: Record<string, unknown> = {}
  globals[MODE_KEY] = "cli"
  globals[ENTRY_KEY] = undefined
  globals[WORKFLOW_KEY] = path
  // The package root first: the workflow's `import "reductio-workflow"` then finds it, and the chunks it
  // shares with the CLI, loaded, rather than resolving each through the TypeScript hooks thread.
  await import("../index.js")
  try {
    await ensureTypeScriptLoader(path)
    module = (await import(pathToFileURL(path).href)) as Record<string, unknown>
  } catch (error) {
    if (isReductioError(error)) throw error
    const message = error instanceof Error ? error.message : String(error)
    const hint = /top-level await|require\(\) ES Module|require\(\) of ES Module|ERR_REQUIRE_(ESM|CYCLE_MODULE|ASYNC_MODULE)/i.test(message)
      ? commonJsHint(path)
      : ""
    throw new ReductioError("WORKFLOW_LOAD_FAILED", `cannot load workflow ${file}: ${message.trim()}${hint}`, { cause: error })
  }
  const exportedTasks = new Map<string, Task>()
  for (const [name, value] of Object.entries(module)) if (isTask(value)) exportedTasks.set(name, value)
  return { path, entry: globals[ENTRY_KEY] as ScriptEntry | undefined, exportedTasks }
}
