/**
 * @module reductio
 * The public API. Safe to load anywhere, including inside the agent's container: nothing here
 * imports a database driver or an AWS SDK statically (those load lazily where used).
 *
 * @example
 * import { task, run } from "reductio-workflow"
 * const inc = task("inc", (x: number) => x + 1)
 * const main = task("main", (n: number) => Array.from({ length: n }, (_, i) => inc(i)))
 * await run(main, 10)
 */
export { task, isTask, type Task, type TaskOptions, type TaskDefinition, type LazilyArgs } from "./task.js"
export { genericTask, type GenericTaskCall, type TaskOf, type LeadingOf, type AfterLeading } from "./task.js"
export type { ParamTypeName, ParamSchema } from "./task.js"
export { cond, seq, map, flatten, catchError, throwError, type CatchFilter, type ErrorClass } from "./builtins.js"
export { starmap, flatMap, zip, compose, delay, force, constant, evaluate, type FlatItem } from "./functools.js"
export { isLazy, type Lazy, type Lazily, type Resolved, type CallOptions, type Expression } from "./expression.js"
export { ReductioError, TaskError, isReductioError, isTaskError, ERROR_CODES, type ErrorCode, type ErrorRecord } from "./errors.js"
export { registerCodec, type Codec } from "./codec.js"
export { MemoryBackend } from "./backend/memory-backend.js"
export type { Backend, WriteBatch, ExecutionRecord, JobRecord, JobView, JobStatus, ExecutionStatus } from "./backend/backend.js"
export type { ExecutionView, JobQuery, JobCounts } from "./backend/backend.js"
export type { Executor, JobRequest, JobOutcome, ExecutorContext } from "./executor/executor.js"
export type { BodyTimes } from "./executor/executor.js"
export type { DryRunPlan, PlannedCall, MissReason } from "./scheduler/dry-run.js"
export { Scheduler, newExecutionId, type SchedulerOptions, type RunOptions, type HeartbeatOptions } from "./scheduler/scheduler.js"
export type { SchedulerEvent, JobEvent, ReusedCallsEvent } from "./scheduler/events.js"
export { LocalExecutor, type LocalExecutorOptions } from "./executor/local-executor.js"
export { run } from "./run.js"
export { currentSignal } from "./task-context.js"
export { getContext } from "./context.js"
export { ShardedDataset, partitionTask, isShardedDataset, type Row, type Shard, type ShardFormat, type PartitionMapper } from "./dataset.js"
export { defineConfig, type ReductioConfig, type ExecutorConfig } from "./config/config.js"
export type { Route, RouteMatch, RoutedTask } from "./config/routes.js"
export type { BatchJobOptions, BatchMountPoint, BatchVolume } from "./executor/batch/batch-options.js"
export { File, Dir, StagingFile, type FileOptions } from "./file.js"
export { StagingDir } from "./staging-dir.js"
export { copyFile, copyDir, globFile } from "./file-tasks.js"
export type { SyncOptions, SyncResult, SyncProgress, SyncAction } from "./storage/sync.js"
export { script, stdout, type ScriptOptions, type ScriptResult, type Stdout } from "./script.js"
export { openBackend } from "./backend/open-backend.js"
export { createExecutors } from "./config/executors.js"
