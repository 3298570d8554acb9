/**
 * @module execution
 * One run of the scheduler: reduces an expression graph. Independent sub-expressions reduce in
 * parallel; each call is looked up in the cache by its eval hash, shared with an identical call
 * already running, or submitted to its executor; expressions in a result reduce as its children.
 * Work per job is O(1) and event driven; provenance is written in batches by the Recorder.
 */
import type { Backend, JobStatus } from "../backend/backend.js"
import { encode, forEachRegistered, hasValueHooks, prepareForEncoding, type Codec } from "../codec.js"
import { ReductioError, TaskError, toErrorRecord, type ErrorRecord, isReductioError } from "../errors.js"
import { cancelledOutcome, type Executor, type JobOutcome } from "../executor/executor.js"
import {
  type CallExpression,
  type CallOptions,
  type CatchExpression,
  type Expression,
  expressionOf,
  type MapExpression,
  makeExpression,
} from "../expression.js"
import { type TaskContext, taskContextFor } from "../context.js"
import { argsHashOf, callHashOf, contextHashOf, evalHashOf, valueHashOf } from "../hashing.js"
import { lookupTask, type TaskDefinition } from "../task.js"
import { decodeIfValid, holdsCheckedValue, INVALID } from "./cached-value.js"
import { type ReplayContext, replayCallTree, TaskIndex } from "./call-replay.js"
import type { SchedulerEvent } from "./events.js"
import { LookupBatcher } from "./lookup-batcher.js"
import { briefError, JobState, jobOptions } from "./job-state.js"
import { Recorder } from "./recorder.js"
import { containsExpression, FAN_OUT_WINDOW, isPlainObject, mapWindowed, readKey } from "./values.js"
import { applyTo, handlerErrorOf, matchesFilter, namesUnregisteredTask, zipLists } from "./builtin-values.js"
import type { Limits } from "./semaphore.js"

/** What an Execution needs from its Scheduler. */
export interface ExecutionSettings {
  readonly id: string
  readonly backend: Backend
  readonly executors: Readonly<Record<string, Executor>>
  readonly defaultExecutor: string
  readonly limits: Limits
  readonly cache: boolean
  readonly workflowPath: string | undefined
  /** The run's context (see context.ts) and per-task option overrides. */
  readonly context: Readonly<Record<string, unknown>>
  readonly taskOptions: Readonly<Record<string, CallOptions>>
  readonly emit: (event: SchedulerEvent) => void
  readonly signal: AbortSignal
}

/** A call that reduced: its value and its provenance node. */
interface CallResult {
  readonly value: unknown
  readonly callHash: string
  /** Whether a later run may reuse this call's tree whole (see EvaluationRecord.replayable). */
  readonly replayable: boolean
  /** Whether the value may hold something checked before reuse (see CallRecord.checked). */
  readonly checked: boolean
}

/** The task function's immediate result: from the cache or from its executor. */
interface Immediate {
  readonly value: unknown
  readonly bytes: Uint8Array
  readonly valueHash: string
  /** The value holds something the cache checks before reuse (a File). */
  readonly checked: boolean
  /** From a cache hit: the call hash and replayability recorded with the evaluation. */
  readonly recordedCallHash?: string | null | undefined
  readonly recordedReplayable?: boolean | undefined
}

export class Execution {
  #seq = 0
  readonly #inflight = new Map<string, Promise<CallResult>>()
  readonly #recorder: Recorder
  readonly #batcher: LookupBatcher
  readonly #started = new Map<string, Promise<void>>()
  #idleScheduled = false
  readonly #contexts = new Map<TaskDefinition, { context: TaskContext; hash: string } | undefined>()
  readonly #replayContext: ReplayContext

  constructor(private readonly settings: ExecutionSettings) {
    this.#recorder = new Recorder(settings.backend)
    this.#batcher = new LookupBatcher(settings.backend, () => this.#scheduleIdle())
    this.#replayContext = {
      executionId: settings.id,
      backend: settings.backend,
      recorder: this.#recorder,
      emit: settings.emit,
      inFlight: (evalHash) => this.#inflight.get(evalHash),
      evalHashOf: (task, argsHash) => evalHashOf(task.hash, argsHash, this.#readContext(task)?.hash),
      cacheDisabled: (task) => this.settings.taskOptions[task.name]?.cache === false,
      tasks: new TaskIndex(),
      broken: new Set(),
      reused: new Set(),
    }
  }

  get recorder(): Recorder {
    return this.#recorder
  }

  /** Reduces any value: expressions anywhere inside are replaced by their values. */
  async reduce(value: unknown, parent: JobState | null): Promise<unknown> {
    if (!containsExpression(value)) return value
    return this.#reduceValue(value, parent)
  }

  async #reduceValue(value: unknown, parent: JobState | null): Promise<unknown> {
    const expression = expressionOf(value)
    if (expression !== undefined) return this.#reduceExpression(expression, parent)
    if (typeof value !== "object" || value === null) return value
    if (Array.isArray(value)) {
      if (!value.some(containsExpression)) return value
      return mapWindowed(value, FAN_OUT_WINDOW, (item) => this.#reduceValue(item, parent))
    }
    if (value instanceof Map) {
      const entries = await Promise.all(
        [...value].map(async ([k, v]) => [await this.#reduceValue(k, parent), await this.#reduceValue(v, parent)] as const),
      )
      return new Map(entries)
    }
    if (value instanceof Set) return new Set(await Promise.all([...value].map((item) => this.#reduceValue(item, parent))))
    if (!isPlainObject(value)) return value
    const keys = Object.keys(value)
    const reduced = await Promise.all(keys.map((key) => this.#reduceValue((value as Record<string, unknown>)[key], parent)))
    const out: Record<string, unknown> = {}
    keys.forEach((key, i) => {
      out[key] = reduced[i]
    })
    return out
  }

  async #reduceExpression(expression: Expression, parent: JobState | null): Promise<unknown> {
    switch (expression.kind) {
      case "call":
        return (await this.#reduceCall(expression, parent)).value
      case "get":
        return readKey(await this.#reduceValue(expression.target, parent), expression.key)
      case "cond":
        return this.#reduceValue((await this.#reduceValue(expression.test, parent)) ? expression.then : expression.else, parent)
      case "seq": {
        const values: unknown[] = []
        for (const item of expression.items) values.push(await this.#reduceValue(item, parent))
        return values
      }
      case "map": {
        const items = await this.#reduceValue(expression.items, parent)
        if (!Array.isArray(items))
          throw new ReductioError("INVALID_ARGUMENT", `map(${expression.task}, items): items reduced to ${typeof items}, not an array`)
        const extra = (await this.#reduceValue(expression.extraArgs, parent)) as unknown[]
        const leading = expression.leading ?? []
        return Promise.all(
          items.map(async (item) => {
            const call = makeExpression<CallExpression>({
              kind: "call",
              task: expression.task,
              args: [...leading, ...(expression.spread === true ? spreadItem(expression, item) : [item]), ...extra],
              options: expression.options,
            })
            return (await this.#reduceCall(call, parent)).value
          }),
        )
      }
      case "flatten": {
        const items = await this.#reduceValue(expression.items, parent)
        if (!Array.isArray(items))
          throw new ReductioError("INVALID_ARGUMENT", `flatten(items): items reduced to ${typeof items}, not an array`)
        return items.flat(1)
      }
      case "catch":
        return this.#reduceCatch(expression, parent)
      case "apply": {
        const [target, args] = await Promise.all([this.#reduceValue(expression.target, parent), this.#reduceValue(expression.args, parent)])
        return this.#reduceValue(await applyTo(target, expression.method, args as unknown[]), parent)
      }
      case "zip":
        return zipLists(await this.#reduceValue(expression.lists, parent))
      case "throw": {
        const error = new ReductioError("WORKFLOW_ERROR", expression.message)
        Object.defineProperty(error, "code", { value: expression.code, enumerable: true })
        error.name = expression.name
        throw error
      }
    }
  }

  async #reduceCatch(expression: CatchExpression, parent: JobState | null): Promise<unknown> {
    try {
      return await this.#reduceValue(expression.body, parent)
    } catch (error) {
      if (this.settings.signal.aborted || !matchesFilter(error, expression)) throw error
      // Failures are not cached: a rerun must try the failed call again, not replay the recovery.
      if (parent !== null) parent.replayable = false
      if (expression.handler === null) return this.#reduceValue(expression.fallback, parent)
      const call = makeExpression<CallExpression>({
        kind: "call",
        task: expression.handler,
        args: [...(expression.handlerArgs ?? []), handlerErrorOf(error)],
        options: expression.handlerOptions,
      })
      return (await this.#reduceCall(call, parent)).value
    }
  }

  async #reduceCall(expression: CallExpression, parent: JobState | null): Promise<CallResult> {
    // Start every call on a fresh microtask: a chain 10,000 deep then never deepens the stack.
    await null
    const task = lookupTask(expression.task, DECLARE_AT_TOP_LEVEL)
    const args = (containsExpression(expression.args) ? await this.#reduceValue(expression.args, parent) : expression.args) as unknown[]
    const preparing = prepareForEncoding(args)
    if (preparing !== undefined) await preparing
    const encodedArgs = encode(args, "args")
    const argsHash = argsHashOf(encodedArgs)
    const context = this.#readContext(task)
    const evalHash = evalHashOf(task.hash, argsHash, context?.hash)
    const options = jobOptions(task, expression.options, this.settings.taskOptions[task.name])
    let result = this.#inflight.get(evalHash)
    if (result === undefined) {
      result = this.#runJob(task, args, encodedArgs, argsHash, evalHash, options, parent, context?.context)
      this.#inflight.set(evalHash, result)
    }
    const done = await result
    if (parent !== null) {
      parent.children.push(done.callHash)
      // A call site asking for cache: false must run again next time, even when this run shared
      // the result of an identical call (or a replay): its parent's tree is not reusable whole.
      if (!done.replayable || options.cache === false) parent.replayable = false
      if (done.checked) parent.checked = true
    }
    return done
  }

  async #runJob(
    task: TaskDefinition,
    args: unknown[],
    encodedArgs: Uint8Array,
    argsHash: string,
    evalHash: string,
    options: CallOptions,
    parent: JobState | null,
    context: TaskContext | undefined,
  ): Promise<CallResult> {
    const job = new JobState(this.settings.id, ++this.#seq, parent?.seq ?? null, task, evalHash, argsHash)
    job.context = context
    if (options.cache === false) job.replayable = false
    if (parent?.noReplay === true) job.noReplay = true
    this.#recorder.task(task)
    this.#setStatus(job, "PENDING", undefined)
    try {
      let immediate = await this.#evaluate(job, args, encodedArgs, options)
      const expressions = containsExpression(immediate.value)
      const replayed = expressions ? await this.#tryReplay(job, args, immediate) : undefined
      if (replayed !== undefined) return replayed
      if (job.cached && expressions && namesUnregisteredTask(immediate.value)) {
        // A task declared inside this task's body is registered only when the body runs.
        job.cached = false
        immediate = await this.#evaluate(job, args, encodedArgs, options, false)
      }
      if (immediate.checked) job.checked = true
      const value = expressions ? await this.#reduceValue(immediate.value, job) : immediate.value
      const encoded = value === immediate.value ? immediate.bytes : encode(value, `result of ${task.name}`)
      const valueHash = value === immediate.value ? immediate.valueHash : valueHashOf(encoded)
      this.#recorder.value(valueHash, encoded)
      job.children.sort()
      const callHash = callHashOf(task.hash, argsHash, valueHash, job.children)
      // A cache hit that reduced to the call recorded with its evaluation: node and edges exist.
      if (immediate.recordedCallHash !== callHash)
        this.#recorder.call({
          callHash,
          taskHash: task.hash,
          argsHash,
          valueHash,
          children: job.children,
          // Files the body built and passed to this call are checked through its arguments.
          checked: job.checked || holdsCheckedValue(args),
        })
      if (immediate.recordedCallHash !== callHash || immediate.recordedReplayable !== job.replayable)
        this.#recorder.evaluation({ evalHash, valueHash: immediate.valueHash, callHash, replayable: job.replayable })
      this.#recordLineage(args, immediate.value, callHash)
      this.#finish(job, job.cached ? "CACHED" : "DONE", callHash, null)
      return { value, callHash, replayable: job.replayable, checked: job.checked }
    } catch (error) {
      const failure = this.#asTaskError(job, error)
      this.#finish(job, isReductioError(failure, "CANCELLED") ? "CANCELLED" : "FAILED", null, failure)
      throw failure
    }
  }

  /** Call replay for a cache hit whose result names calls: its recorded tree, if it holds. */
  async #tryReplay(job: JobState, args: unknown[], immediate: Immediate): Promise<CallResult | undefined> {
    const callHash = immediate.recordedCallHash
    if (job.noReplay || immediate.recordedReplayable !== true || !callHash) return undefined
    const replayed = await replayCallTree(job, callHash, this.#replayContext)
    if (replayed === undefined) return undefined
    this.#recordLineage(args, immediate.value, callHash)
    this.#finish(job, "CACHED", callHash, null)
    return { value: replayed.value, callHash, replayable: true, checked: replayed.checked }
  }

  /** The task function's immediate result: from the cache when valid, else from its executor. */
  async #evaluate(job: JobState, args: unknown[], encodedArgs: Uint8Array, options: CallOptions, useCache = true): Promise<Immediate> {
    // A call a replay reused has the value the replay read: a call-site cache: false shares it,
    // as it would share the result of an identical call reduced earlier in this execution.
    if (useCache && ((this.settings.cache && options.cache !== false) || this.#replayContext.reused.has(job.evalHash))) {
      const hit = await this.#batcher.lookup(job.evalHash)
      if (hit !== undefined) {
        const decoded = await decodeIfValid(hit.bytes)
        if (decoded !== INVALID) {
          // The arguments were stored with the evaluation this hit comes from.
          job.cached = true
          this.#recorder.knownValue(hit.valueHash)
          return {
            value: decoded.value,
            bytes: hit.bytes,
            valueHash: hit.valueHash,
            checked: decoded.checked,
            recordedCallHash: hit.callHash,
            recordedReplayable: hit.replayable,
          }
        }
      }
    }
    this.#recorder.value(job.argsHash, encodedArgs)
    const outcome = await this.#execute(job, args, encodedArgs, options)
    if (outcome.status === "failed") throw outcome
    const preparing = prepareForEncoding(outcome.value)
    if (preparing !== undefined) await preparing
    const bytes = encode(outcome.value, `result of ${job.task.name}`)
    const valueHash = valueHashOf(bytes)
    this.#recorder.value(valueHash, bytes)
    this.#recorder.evaluation({ evalHash: job.evalHash, valueHash })
    return { value: outcome.value, bytes, valueHash, checked: holdsCheckedValue(outcome.value) }
  }

  async #execute(job: JobState, args: unknown[], encodedArgs: Uint8Array, options: CallOptions): Promise<JobOutcome> {
    const executorName = options.executor ?? this.settings.defaultExecutor
    const executor = this.settings.executors[executorName]
    if (executor === undefined) {
      throw new ReductioError(
        "UNKNOWN_EXECUTOR",
        `task ${job.task.name} asks for executor "${executorName}", which is not configured; configured executors: ${Object.keys(this.settings.executors).join(", ")}`,
      )
    }
    const limits = this.settings.limits.resolve(options.limits, job.task.name)
    const retries = Math.max(0, Math.floor(options.retries ?? 0))
    await this.#startExecutor(executorName, executor)
    let outcome: JobOutcome = CANCELLED_OUTCOME
    for (let attempt = 1; attempt <= retries + 1; attempt++) {
      if (limits.length > 0) await this.settings.limits.acquire(limits)
      try {
        if (this.settings.signal.aborted) return outcome
        this.#setStatus(job, "RUNNING", job.status)
        const submitted = executor.submit({
          executionId: this.settings.id,
          jobId: `${this.settings.id}/${job.seq}`,
          evalHash: job.evalHash,
          argsHash: job.argsHash,
          task: job.task,
          args,
          encodedArgs,
          options,
          attempt,
          signal: this.settings.signal,
          ...(job.context === undefined ? {} : { context: job.context }),
        })
        if (executor.idle !== undefined) this.#scheduleIdle()
        try {
          outcome = await submitted
        } catch (error) {
          outcome = { status: "failed", kind: "infrastructure", error: toErrorRecord(error) }
        }
      } finally {
        if (limits.length > 0) this.settings.limits.release(limits)
      }
      if (outcome.status === "done" || outcome.kind === "cancelled" || this.settings.signal.aborted) return outcome
    }
    return outcome
  }

  /** The context a task reads in this run and its hash, once per task; undefined when it reads none. */
  #readContext(task: TaskDefinition): { context: TaskContext; hash: string } | undefined {
    if (this.#contexts.has(task)) return this.#contexts.get(task)
    const context = taskContextFor(task, this.settings.context)
    const read = context === undefined ? undefined : { context, hash: contextHashOf(encode(context.values, `context of ${task.name}`)) }
    this.#contexts.set(task, read)
    return read
  }

  #startExecutor(name: string, executor: Executor): Promise<void> {
    let started = this.#started.get(name)
    if (started === undefined) {
      started =
        executor.start?.({
          executionId: this.settings.id,
          workflowPath: this.settings.workflowPath,
          log: (message) => this.settings.emit({ type: "log", executionId: this.settings.id, message }),
        }) ?? Promise.resolve()
      this.#started.set(name, started)
    }
    return started
  }

  /** Tells batching executors there is no more ready work, once this turn's work has settled. */
  #scheduleIdle(): void {
    if (this.#idleScheduled) return
    this.#idleScheduled = true
    setImmediate(() => {
      this.#idleScheduled = false
      if (this.#batcher.busy) return
      for (const executor of Object.values(this.settings.executors)) executor.idle?.()
    })
  }

  #asTaskError(job: JobState, error: unknown): Error {
    if (isFailedOutcome(error)) {
      const code = error.kind === "task" ? "TASK_FAILED" : error.kind === "cancelled" ? "CANCELLED" : "INFRASTRUCTURE_FAILURE"
      const record: ErrorRecord =
        error.logTail === undefined ? error.error : { ...error.error, details: { ...error.error.details, logTail: error.logTail } }
      return new TaskError(code, { task: job.task.name, argsHash: job.argsHash, evalHash: job.evalHash, record })
    }
    return error instanceof Error ? error : new Error(String(error))
  }

  #setStatus(job: JobState, status: JobStatus, previous: JobStatus | undefined): void {
    job.status = status
    this.#recorder.job(job)
    this.settings.emit({
      type: "job",
      executionId: this.settings.id,
      seq: job.seq,
      task: job.task.name,
      status,
      previous,
      evalHash: job.evalHash,
    })
  }

  #finish(job: JobState, status: JobStatus, callHash: string | null, error: unknown): void {
    job.callHash = callHash
    job.endedAt = Date.now()
    job.error = error === null ? null : JSON.stringify(briefError(error, job))
    this.#setStatus(job, status, job.status)
  }

  /**
   * Records the files a call consumed (in its arguments) and produced (in what its body returned:
   * files that only pass through from child calls belong to those calls).
   */
  #recordLineage(args: unknown[], value: unknown, callHash: string): void {
    if (!hasValueHooks() || (typeof value !== "object" && !args.some((arg) => typeof arg === "object" && arg !== null))) return
    const record = (role: "input" | "output") => (item: unknown, codec: Codec<unknown>) => {
      const lineage = codec.lineage?.(item)
      if (lineage !== undefined)
        this.#recorder.file({ path: lineage.path, fileHash: lineage.hash, callHash, role, executionId: this.settings.id, at: Date.now() })
    }
    forEachRegistered(args, record("input"))
    // A File inside a call this body returned belongs to that call, not to this one.
    forEachRegistered(value, record("output"), { intoExpressions: false })
  }
}

const CANCELLED_OUTCOME = cancelledOutcome("cancelled before it started")
const DECLARE_AT_TOP_LEVEL =
  " (a task declared inside another task's body exists only in the process where that body ran: declare tasks at a module's top level)"

function isFailedOutcome(value: unknown): value is Extract<JobOutcome, { status: "failed" }> {
  return typeof value === "object" && value !== null && (value as { status?: unknown }).status === "failed" && "kind" in value
}

/** The arguments a starmap item stands for. */
function spreadItem(expression: MapExpression, item: unknown): unknown[] {
  if (!Array.isArray(item)) {
    throw new ReductioError(
      "INVALID_ARGUMENT",
      `starmap(${expression.task}, items): each item must be an argument list (an array), got ${typeof item}`,
    )
  }
  return item
}
