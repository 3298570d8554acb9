/**
 * @module session
 * One run from the command line or a script: opens the backend, builds the executors, shows
 * progress, cancels on Ctrl-C (a second Ctrl-C exits at once), and closes everything.
 */
import type { Backend } from "../backend/backend.js"
import { loadBackendModules, openBackend } from "../backend/open-backend.js"
import { createExecutors } from "../config/executors.js"
import type { HeartbeatConfig } from "../config/config.js"
import type { LoadedConfig } from "../config/load-config.js"
import { routingFor } from "../config/routes.js"
import { isReductioError, ReductioError } from "../errors.js"
import type { CallOptions } from "../expression.js"
import type { DryRunPlan } from "../scheduler/dry-run.js"
import { type HeartbeatOptions, Scheduler } from "../scheduler/scheduler.js"
import type { CliIo } from "./io.js"
import { Progress, type ProgressMode } from "./progress.js"

/** What to run and how. */
export interface SessionOptions {
  readonly io: CliIo
  readonly loaded: LoadedConfig
  /** The expression (or value holding lazies) to reduce. */
  readonly expression: unknown
  readonly command: string
  readonly workflowPath?: string | undefined
  readonly cache: boolean
  readonly progress: ProgressMode
  /** Tags to record with the execution (awaited just before it starts). */
  readonly tags?: Readonly<Record<string, string>> | Promise<Readonly<Record<string, string>>>
  /** Plan instead of run: see {@link Scheduler.dryRun}. Nothing is recorded. */
  readonly dryRun?: boolean
  /** The run's context; default: the configuration's. */
  readonly context?: Readonly<Record<string, unknown>>
  /** Option overrides by task name; default: the configuration's `tasks`. */
  readonly taskOptions?: Readonly<Record<string, CallOptions>>
  /** `--jobs N`: the local executor's concurrency, over `executors.local.concurrency`. */
  readonly jobs?: number
}

/** How a session ended. */
export type SessionResult =
  | { readonly ok: true; readonly executionId: string; readonly value: unknown }
  | { readonly ok: true; readonly executionId: undefined; readonly plan: DryRunPlan }
  | { readonly ok: false; readonly executionId: string | undefined; readonly error: unknown }

/** The configuration with the local executor's concurrency set to `jobs`, when given. */
function withJobs(config: LoadedConfig["config"], jobs: number | undefined): LoadedConfig["config"] {
  if (jobs === undefined) return config
  const local = config.executors?.local
  const base = local?.type === "local" ? local : { type: "local" as const }
  return { ...config, executors: { ...config.executors, local: { ...base, concurrency: jobs } } }
}

/** Runs one execution end to end. Never throws: failures come back as `{ ok: false }`. */
export async function runSession(options: SessionOptions): Promise<SessionResult> {
  const { io, loaded } = options
  let backend: Backend | undefined
  let scheduler: Scheduler | undefined
  const controller = new AbortController()
  let interrupts = 0
  const onSigint = () => {
    interrupts++
    if (interrupts > 1) process.exit(130)
    io.err("\ncancelling: stopping running jobs (press Ctrl-C again to exit at once)\n")
    controller.abort(new ReductioError("CANCELLED", "cancelled by Ctrl-C"))
  }
  process.on("SIGINT", onSigint)
  const progress = new Progress(io, options.dryRun === true ? "off" : options.progress)
  try {
    backend = await openBackend(loaded.database, { cwd: loaded.projectDir })
    scheduler = new Scheduler({
      backend,
      executors: await createExecutors(withJobs(loaded.config, options.jobs), loaded.projectDir),
      defaultExecutor: loaded.config.defaultExecutor ?? "local",
      limits: loaded.config.limits ?? {},
      cache: options.cache,
      workflowPath: options.workflowPath,
      context: options.context ?? loaded.config.context ?? {},
      taskOptions: options.taskOptions ?? loaded.config.tasks ?? {},
      routing: routingFor(loaded.config.routes),
      onEvent: progress.onEvent,
      ...(loaded.config.callLeases === undefined ? {} : { callLeases: loaded.config.callLeases }),
      ...(loaded.config.heartbeat === undefined ? {} : { heartbeat: heartbeatMs(loaded.config.heartbeat) }),
    })
    if (options.dryRun === true) {
      const plan = await scheduler.dryRun(options.expression, { signal: controller.signal })
      return { ok: true, executionId: undefined, plan }
    }
    const tags = await options.tags
    const value = await scheduler.run(options.expression, {
      command: options.command,
      signal: controller.signal,
      ...(tags === undefined ? {} : { tags }),
    })
    progress.finish("DONE")
    return { ok: true, executionId: scheduler.lastExecutionId as string, value }
  } catch (error) {
    // The status the scheduler recorded: a cancelled run rejects with CANCELLED.
    progress.finish(isReductioError(error, "CANCELLED") ? "CANCELLED" : "FAILED")
    return { ok: false, executionId: scheduler?.lastExecutionId, error }
  } finally {
    process.off("SIGINT", onSigint)
    await scheduler?.stop().catch(() => undefined)
    await backend?.close().catch(() => undefined)
  }
}

/** The configuration's heartbeat (seconds) as the scheduler takes it (ms). */
function heartbeatMs(heartbeat: HeartbeatConfig): HeartbeatOptions {
  return {
    ...(heartbeat.intervalSeconds === undefined ? {} : { intervalMs: heartbeat.intervalSeconds * 1000 }),
    ...(heartbeat.expirySeconds === undefined ? {} : { expiryMs: heartbeat.expirySeconds * 1000 }),
  }
}

/**
 * Loads the backend's modules (driver, query builder) before the workflow is loaded: after that
 * the TypeScript loader is on, and every module load would pass through its worker thread.
 */
export function preloadBackendModules(spec: string | undefined): Promise<void> {
  // Before the configuration is read, an unnamed database is the default SQLite one.
  return loadBackendModules(spec ?? ".reductio/reductio.db")
}

/** The progress mode for this terminal: a table on a TTY, lines otherwise, nothing when quiet. */
export function progressModeFor(io: CliIo, quiet: boolean): ProgressMode {
  if (quiet) return "off"
  return io.isTTY ? "table" : "lines"
}
