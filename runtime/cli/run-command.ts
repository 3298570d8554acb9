/**
 * @module run-command
 * `reductio run <workflow.ts> [task] [--param value ...]`: loads the workflow, runs the task with
 * arguments from the command line, prints the result; the exit code tells success or failure.
 */
import { dirname, relative, resolve } from "node:path"
import type { Command } from "commander"
import { type LoadedConfig, loadConfig } from "../config/load-config.js"
import { envValue } from "../env.js"
import { exitCodeOf, isReductioError, isTaskError, ReductioError } from "../errors.js"
import { type CallExpression, makeExpression, toLazy } from "../expression.js"
import { lookupTask, parameterNames, registeredTasks, type Task, type TaskDefinition } from "../task.js"
import { limitHeapGrowth } from "./heap-growth.js"
import type { CliIo } from "./io.js"
import type { CommandRegistration } from "./main.js"
import { resultJson } from "./json-output.js"
import { formatFailure, formatValue } from "./output.js"
import { runContext, runTaskOptions } from "./run-overrides.js"
import { formatPlan, planJson } from "./run-plan.js"
import { explainRouting, formatRouting } from "./run-routing.js"
import { automaticTags, parseTagFlags } from "./run-tags.js"
import { preloadBackendModules, progressModeFor, runSession, type SessionResult } from "./session.js"
import { parameterLines, parseTaskArgs, taskUsage } from "./task-args.js"
import { taskSpec } from "./task-params.js"
import { loadWorkflow } from "./workflow.js"

/** reductio options accepted after the task name too, unless the task has a parameter so named. */
const RUN_FLAGS = new Map<string, "flag" | "value" | "list">([
  ["no-cache", "flag"],
  ["json", "flag"],
  ["quiet", "flag"],
  ["db", "value"],
  ["config", "value"],
  ["executor", "value"],
  ["dryrun", "flag"],
  ["explain-routing", "flag"],
  ["tag", "list"],
  ["args-file", "value"],
  ["profile", "value"],
  ["context", "list"],
  ["context-file", "list"],
  ["task-option", "list"],
  ["executor-local", "list"],
])

interface RunFlags {
  cache?: boolean
  json?: boolean
  quiet?: boolean
  db?: string
  config?: string
  executor?: string
  dryrun?: boolean
  explainRouting?: boolean
  tag?: string[]
  argsFile?: string
  profile?: string
  context?: string[]
  contextFile?: string[]
  taskOption?: string[]
  executorLocal?: string[]
  jobs?: string
}

export const registerRunCommand: CommandRegistration = (program, io, done) => {
  program
    .command("run")
    .summary("run a task of a workflow file")
    .description(
      "Run a task of a workflow file with arguments from the command line (--name value, parsed by each parameter's declared type).\n" +
        "Without a task name, runs the task the file's own run() names, else `main`.\n" +
        "`reductio run workflow.ts --help` lists the file's tasks and their parameters.",
    )
    .argument("[workflow]", "the workflow file (TypeScript or JavaScript)")
    .argument("[task]", "the task to run")
    .argument("[args...]", "task arguments: --name value, or positional")
    .option("--no-cache", "run every call even when a cached result exists")
    .option("--db <url>", "database: a SQLite path or postgres:// URL (env REDUCTIO_DB)", once("--db"))
    .option("--config <path>", "configuration file (default: reductio.config.ts found upwards)", once("--config"))
    .option("--executor <name>", "default executor for tasks that name none", once("--executor"))
    .option(
      "--jobs <n>",
      "run at most N local calls at once (default: script calls and calls with vcpus/memory share the cores)",
      once("--jobs"),
    )
    .option("--json", "print the result as JSON with the execution id")
    .option("--quiet", "no progress output")
    .option("--dryrun", "list what would run and why (the cache missed), without running or recording anything")
    .option("--explain-routing", "print which routing rule (config routes) places each task of the workflow, and run nothing")
    .option("--tag <key=value>", "tag the execution (repeatable); user, host, git and reductio version tags are added", collect, [])
    .option("--args-file <path>", "task parameters as one JSON object by name (flags win); a value may also be @path", once("--args-file"))
    .option("--context <key=value>", "a context value task bodies read with getContext (repeatable; JSON or text)", collect)
    .option("--context-file <path>", "context values from a JSON object file (repeatable; --context wins)", collect)
    .option(
      "--profile <names>",
      "apply the configuration's profiles of these names, in order (comma-separated; env REDUCTIO_PROFILE)",
      once("--profile"),
    )
    .option(
      "-o, --task-option <task=option=value>",
      "override a task's option for this run, e.g. -o align=memory=8192 (repeatable)",
      collect,
    )
    .option(
      "--executor-local <name>",
      "run this aws_batch executor's calls in a local container (docker, or podman) instead of on AWS Batch (repeatable)",
      collect,
    )
    .helpOption(false)
    .option("-h, --help", "show help; after a workflow file, list its tasks")
    .allowUnknownOption()
    .passThroughOptions()
    .action(
      async (workflow: string, taskName: string | undefined, rest: string[], options: RunFlags & { help?: boolean }, command: Command) => {
        if (workflow === undefined) {
          if (options.help === true) io.out(command.helpInformation())
          else io.err(`error: name the workflow file to run\n${command.helpInformation()}`)
          return done(options.help === true ? 0 : 2)
        }
        done(await runCommand(io, workflow, taskName, rest, options, command))
      },
    )
}

async function runCommand(
  io: CliIo,
  workflow: string,
  taskName: string | undefined,
  rest: string[],
  flags: RunFlags & { help?: boolean },
  command: Command,
): Promise<number> {
  try {
    limitHeapGrowth(io.env)
    await preloadBackendModules(flags.db ?? envValue(io.env, "REDUCTIO_DB"))
    // git runs while the workflow loads.
    const autoTags = automaticTags(resolve(io.cwd, workflow))
    const loadedWorkflow = await loadWorkflow(workflow, io.cwd)
    const wantsHelp = flags.help === true || taskName === "--help" || taskName === "-h" || rest.includes("--help") || rest.includes("-h")
    if (wantsHelp) {
      io.out(describeWorkflow(workflow, taskName?.startsWith("-") ? undefined : taskName, loadedWorkflow.exportedTasks))
      return 0
    }
    let task: TaskDefinition
    let args: unknown[]
    if (taskName === undefined || taskName.startsWith("--")) {
      const entry = loadedWorkflow.entry
      task = entry?.task.definition ?? defaultTask(workflow, loadedWorkflow.exportedTasks)
      const argv = extractRunFlags(task, taskName === undefined ? rest : [taskName, ...rest], flags)
      const useEntry = entry !== undefined && argv.length === 0 && flags.argsFile === undefined
      // --explain-routing runs nothing, so the task's arguments are not needed.
      args =
        useEntry || flags.explainRouting === true
          ? [...(entry?.args ?? [])]
          : parseTaskArgs(task, argv, { cwd: io.cwd, argsFile: flags.argsFile })
    } else {
      task = findTask(taskName, loadedWorkflow.exportedTasks)
      const argv = extractRunFlags(task, rest, flags)
      args = flags.explainRouting === true ? [] : parseTaskArgs(task, argv, { cwd: io.cwd, argsFile: flags.argsFile })
    }
    const userTags = parseTagFlags(flags.tag ?? [])
    const loaded = withLocalExecutors(
      await loadConfig(io.cwd, io.env, {
        workflowDir: dirname(loadedWorkflow.path),
        configPath: flags.config,
        database: flags.db,
        defaultExecutor: flags.executor,
        profiles: flags.profile?.split(","),
      }),
      flags.executorLocal ?? [],
    )
    const context = runContext(loaded.config.context ?? {}, flags.contextFile ?? [], flags.context ?? [], io.cwd)
    const taskOptions = runTaskOptions(
      loaded.config.tasks ?? {},
      flags.taskOption ?? [],
      (name) => findTask(name, loadedWorkflow.exportedTasks).name,
    )
    const tasks = () => [...registeredTasks().values()].filter((t) => !t.name.startsWith("reductio."))
    const routing = (shown: Iterable<TaskDefinition>) =>
      explainRouting(shown, loaded.config.routes, loaded.config.defaultExecutor ?? "local", taskOptions)
    if (flags.explainRouting === true) {
      const lines = routing(tasks())
      io.out(flags.json === true ? `${JSON.stringify({ routing: lines })}\n` : formatRouting(lines, loaded.config.routes?.length ?? 0))
      return 0
    }
    const call = registeredTaskFunction(task)(...args)
    const result = await runSession({
      io,
      loaded,
      expression: call,
      command: ["run", relative(io.cwd, loadedWorkflow.path) || workflow, task.name, ...rest].join(" "),
      workflowPath: loadedWorkflow.path,
      cache: flags.cache !== false,
      progress: progressModeFor(io, flags.quiet === true || flags.json === true),
      tags: autoTags.then((automatic) => ({ ...automatic, ...userTags })),
      dryRun: flags.dryrun === true,
      context,
      taskOptions,
      ...(flags.jobs === undefined ? {} : { jobs: jobsOf(flags.jobs) }),
    })
    printResult(io, result, flags.json === true)
    if (result.ok && "plan" in result && flags.json !== true && (loaded.config.routes?.length ?? 0) > 0) {
      const planned = new Set(result.plan.calls.map((planned) => planned.task))
      io.out(formatRouting(routing(tasks().filter((t) => planned.has(t.name))), loaded.config.routes?.length ?? 0))
    }
    return result.ok ? 0 : exitCodeOf(result.error)
  } catch (error) {
    io.err(`${formatFailure(error)}\n`)
    void command
    return exitCodeOf(error)
  }
}

function jobsOf(text: string): number {
  const jobs = Number(text)
  if (!Number.isSafeInteger(jobs) || jobs < 1) {
    throw new ReductioError("INVALID_ARGUMENT", `--jobs must be a whole number of at least 1, got ${JSON.stringify(text)}`, {
      details: { flag: "--jobs", value: text },
    })
  }
  return jobs
}

function printResult(io: CliIo, result: SessionResult, json: boolean): void {
  if (result.ok && "plan" in result) io.out(json ? `${JSON.stringify(planJson(result.plan))}\n` : formatPlan(result.plan))
  else if (json)
    io.out(
      `${result.ok ? `${JSON.stringify({ executionId: result.executionId, status: "DONE" }).slice(0, -1)},"result":${resultJson(result.value)}}` : JSON.stringify(failureJson(result))}\n`,
    )
  else if (result.ok) io.out(`${formatValue(result.value)}\n`)
  else io.err(`${formatFailure(result.error)}\n`)
}

function failureJson(result: { executionId: string | undefined; error: unknown }): unknown {
  const { error } = result
  const call = isTaskError(error)
    ? { task: error.task, label: error.label, argsPreview: error.argsPreview, evalHash: error.evalHash, jobId: error.jobId }
    : undefined
  return {
    executionId: result.executionId,
    status: isReductioError(error, "CANCELLED") ? "CANCELLED" : "FAILED",
    error: { code: isReductioError(error) ? error.code : undefined, message: String((error as Error)?.message ?? error), ...call },
  }
}

/** The configuration with `--executor-local` executors set to run locally (INVALID_ARGUMENT for a name that is no aws_batch executor). */
function withLocalExecutors(loaded: LoadedConfig, names: readonly string[]): LoadedConfig {
  if (names.length === 0) return loaded
  const executors = { ...loaded.config.executors }
  for (const name of names) {
    const executor = executors[name]
    if (executor?.type !== "aws_batch") {
      const batches = Object.entries(executors).filter(([, config]) => config.type === "aws_batch")
      throw new ReductioError(
        "INVALID_ARGUMENT",
        `--executor-local ${JSON.stringify(name)}: no aws_batch executor of that name; configured: ${batches.map(([known]) => known).join(", ") || "none"}`,
      )
    }
    if (executor.local === undefined || executor.local === false) executors[name] = { ...executor, local: true }
  }
  return { ...loaded, config: { ...loaded.config, executors } }
}

/** Moves reductio's own flags found after the task name into `flags`; returns the rest. */
function extractRunFlags(task: TaskDefinition, argv: readonly string[], flags: RunFlags): string[] {
  const params = new Set(parameterNames(task.fn))
  const rest: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    const name = arg === "-o" ? "task-option" : arg.startsWith("--") ? (arg.slice(2).split("=")[0] ?? "") : ""
    const kind = RUN_FLAGS.get(name)
    if (kind === undefined || params.has(name)) {
      rest.push(arg)
      continue
    }
    const value = arg.startsWith("--") && arg.includes("=") ? arg.slice(arg.indexOf("=") + 1) : kind === "flag" ? undefined : argv[++i]
    if (name === "no-cache") flags.cache = false
    else if (name === "json") flags.json = true
    else if (name === "quiet") flags.quiet = true
    else if (name === "dryrun") flags.dryrun = true
    else if (name === "explain-routing") flags.explainRouting = true
    else if (value === undefined) throw new ReductioError("INVALID_ARGUMENT", `--${name} needs a value`)
    else if (kind === "list") {
      const field = RUN_LIST_FIELDS[name] as "context"
      flags[field] = collect(value, flags[field])
    } else flags[RUN_FLAG_FIELDS[name] ?? (name as "db")] = once(`--${name}`)(value, flags[RUN_FLAG_FIELDS[name] ?? (name as "db")])
  }
  return rest
}

/** A task by its registered name, or by the name the workflow exports it under. */
function findTask(name: string, exported: ReadonlyMap<string, Task>): TaskDefinition {
  if (registeredTasks().has(name)) return lookupTask(name)
  const byExport = exported.get(name)
  if (byExport !== undefined) return byExport.definition
  try {
    return lookupTask(name)
  } catch (error) {
    if (exported.size === 0 || !isReductioError(error, "TASK_NOT_FOUND")) throw error
    const exports = [...exported].map(([exportName, t]) => (exportName === t.taskName ? exportName : `${exportName} (${t.taskName})`))
    throw new ReductioError("TASK_NOT_FOUND", `${error.message}; exported tasks: ${exports.join(", ")}`, { details: error.details })
  }
}

function defaultTask(workflow: string, exported: ReadonlyMap<string, Task>): TaskDefinition {
  const main = registeredTasks().get("main") ?? exported.get("main")?.definition
  if (main !== undefined) return main
  throw new ReductioError(
    "TASK_NOT_FOUND",
    `${workflow} has no task named main and no run() call: name the task to run. Tasks: ${[...registeredTasks().keys()].join(", ") || "(none)"}`,
  )
}

function registeredTaskFunction(definition: TaskDefinition): (...args: unknown[]) => unknown {
  return (...args: unknown[]) => toLazy(makeExpression<CallExpression>({ kind: "call", task: definition.name, args }))
}

function describeWorkflow(workflow: string, taskName: string | undefined, exported: ReadonlyMap<string, Task>): string {
  const tasks = [...registeredTasks().values()].filter((t) => !t.name.startsWith("reductio.")).sort((a, b) => a.name.localeCompare(b.name))
  const shown = taskName === undefined ? tasks : [findTask(taskName, exported)]
  const lines = [`Usage: reductio run ${workflow} <task> [--param value ...]`, "", "Tasks:"]
  for (const t of shown) {
    lines.push(`  ${taskUsage(t)}${t.options.version === undefined ? "" : `   (version ${t.options.version})`}`)
    const doc = taskSpec(t).doc
    if (doc !== undefined) lines.push(...doc.split("\n").map((line) => `      ${line}`))
    lines.push(...parameterLines(t).map((line) => `      ${line}`))
  }
  lines.push(
    "",
    "Values are parsed by each parameter's declared type: numbers, true/false, JSON for arrays and objects,",
    "a path or URI for File and Dir; @path reads a value from a file. Untyped values are JSON when they parse, else text.",
    "Run options: --no-cache  --db <url>  --config <path>  --executor <name>  --args-file <path>  --json  --quiet",
    "             --dryrun  --explain-routing  --tag <key=value>  --context key=value  --context-file <path>  --profile <names>",
    "             -o task=option=value",
  )
  return `${lines.join("\n")}\n`
}

/** Which RunFlags field a run flag given after the task name sets. */
const RUN_FLAG_FIELDS: Readonly<Record<string, "db" | "config" | "executor" | "argsFile" | "profile">> = { "args-file": "argsFile" }
const RUN_LIST_FIELDS: Readonly<Record<string, "context" | "contextFile" | "taskOption" | "tag" | "executorLocal">> = {
  tag: "tag",
  context: "context",
  "context-file": "contextFile",
  "task-option": "taskOption",
  "executor-local": "executorLocal",
}

/** A commander value parser collecting a repeatable flag's values. */
function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value]
}

/** A commander value parser refusing a flag given twice (a repeated flag is an error, not last-wins). */
function once(flag: string): (value: string, previous: string | undefined) => string {
  return (value, previous) => {
    if (previous !== undefined) throw new ReductioError("INVALID_ARGUMENT", `${flag} is given more than once`, { details: { flag } })
    return value
  }
}
