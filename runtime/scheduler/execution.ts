/**
 * @module execution
 * One run of the scheduler: reduces an expression graph. Independent sub-expressions reduce in
 * parallel; each call is looked up in the cache by its eval hash, shared with an identical call
 * already running, or submitted to its executor; expressions in a result reduce as its children.
 * Work per job is O(1) and event driven; provenance is written in batches by the Recorder.
 */
import { type Backend, CALL_VALUE_BYTES, type JobStatus } from "../backend/backend.js"
import { encode, forEachRegistered, hasValueHooks, prepareForEncoding, type Codec } from "../codec.js"
import { ReductioError, isReductioError } from "../errors.js"
import type { Executor } from "../executor/executor.js"
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
import { setOwn } from "../expression-table.js"
import { lookupTask, type TaskDefinition } from "../task.js"
import { callLabel } from "../preview.js"
import { decodeIfValid, holdsCheckedValue, INVALID, mayHoldExpressions } from "./cached-value.js"
import { type DryRun, isWouldRun, reduceEveryItem, settleAll } from "./dry-run.js"
import { type ReplayContext, replayCallTree, TaskIndex } from "./call-replay.js"
import type { SchedulerEvent } from "./events.js"
import { LeaseBatcher } from "./lease-batcher.js"
import { LookupBatcher } from "./lookup-batcher.js"
import { CANCELLED_OUTCOME, JobRunner, taskErrorOf } from "./job-runner.js"
import { briefError, JobState, jobOptions } from "./job-state.js"
import { Recorder } from "./recorder.js"
import { containsExpression, expressionHolders, FanOutWindow, mapWindowed, readKey } from "./values.js"
import type { Limits } from "./semaphore.js"
import { applyTo, handlerErrorOf, matchesFilter, namesUnregisteredTask, zipLists } from "./builtin-values.js"

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
  /** The options a routing rule gives a task (laid between its declared options and the call site's). */
  readonly routing?: ((task: TaskDefinition) => CallOptions | undefined) | undefined
  readonly emit: (event: SchedulerEvent) => void
  readonly signal: AbortSignal
  /** Call leases between hosts (undefined: none): the heartbeat interval and lease expiry. */
  readonly leases?: { readonly intervalMs: number; readonly expiryMs: number } | undefined
  /** Reduce as far as the cache allows, run no task body, record nothing (see dry-run.ts). */
  readonly dryRun?: DryRun | undefined
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
  /**
   * A cache hit whose value names calls, not decoded yet (`value` undefined): its recorded tree
   * is tried first, and a replay never builds the calls it names (see #fromCache).
   */
  readonly undecoded?: boolean
}

/** What an undecoded hit carries in place of its value (see {@link Immediate.undecoded}). */
const NOT_DECODED = { value: undefined, checked: false } as const

export class Execution {
  #seq = 0
  readonly #inflight = new Map<string, Promise<CallResult>>()
  readonly #recorder: Recorder
  readonly #batcher: LookupBatcher
  readonly #leases: LeaseBatcher | undefined
  readonly #runner: JobRunner
  /** A dry run's calls waiting on their arguments, so one expression is planned once. */
  readonly #waiting = new WeakMap<CallExpression, Promise<unknown>>()
  #idleScheduled = false
  readonly #contexts = new Map<TaskDefinition, { context: TaskContext; hash: string } | undefined>()
  readonly #routes = new Map<TaskDefinition, CallOptions | undefined>()
  readonly #replayContext: ReplayContext
  /** How many items of one list reduce at once, and how many calls are evaluated at once (see FanOutWindow). */
  readonly #window = new FanOutWindow()

  constructor(private readonly settings: ExecutionSettings) {
    this.#recorder = new Recorder(settings.dryRun === undefined ? settings.backend : DISCARD)
    // A finished call's result leaves memory once its rows are written: an identical call later in
    // the execution finds it in the cache instead, so memory does not grow with the calls finished.
    this.#recorder.onWritten = (evalHashes) => {
      for (const evalHash of evalHashes) this.#inflight.delete(evalHash)
    }
    this.#batcher = new LookupBatcher(settings.backend, () => this.#scheduleIdle())
    this.#leases =
      settings.leases === undefined || settings.backend.claimLeases === undefined || settings.backend.runningExecutions === undefined
        ? undefined
        : new LeaseBatcher(settings.backend, {
            holder: settings.id,
            expiryMs: settings.leases.expiryMs,
            intervalMs: settings.leases.intervalMs,
            recorder: this.#recorder,
            signal: settings.signal,
            log: (message) => settings.emit({ type: "log", executionId: settings.id, message }),
            onSettled: () => this.#scheduleIdle(),
          })
    this.#runner = new JobRunner(settings, {
      running: (job) => this.#setStatus(job, "RUNNING", job.status),
      placed: (job, where) => {
        job.executorJobId = where.executorJobId
        job.image = where.image ?? null
        this.#recorder.job(job)
      },
      submitted: () => {
        this.#window.widen()
        this.#scheduleIdle()
      },
    })
    this.#replayContext = {
      executionId: settings.id,
      backend: settings.backend,
      recorder: this.#recorder,
      emit: settings.emit,
      inFlight: (evalHash) => this.#inflight.get(evalHash),
      startedHere: (evalHash) => this.#inflight.has(evalHash),
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

  /** True when this execution takes call leases (the backend has them and they are on). */
  get leasing(): boolean {
    return this.#leases !== undefined
  }

  /** Starts call leases: alone or sharing, as the executions running now say. */
  startLeases(): Promise<void> {
    return this.#leases?.start() ?? Promise.resolve()
  }

  /** Stops looking for other executions. */
  stopLeases(): void {
    this.#leases?.stop()
  }

  /** Reduces any value: expressions anywhere inside are replaced by their values. */
  async reduce(value: unknown, parent: JobState | null): Promise<unknown> {
    return this.#reduceNested(value, parent, "value")
  }

  /** Reduces a value that may hold expressions anywhere inside (kept as it is when none does). */
  #reduceNested(value: unknown, parent: JobState | null, name: string, owner?: Expression): Promise<unknown> | unknown {
    const expression = expressionOf(value)
    if (expression !== undefined) return this.#reduceExpression(expression, parent)
    if (!containsExpression(value)) return value
    return this.#reduceValue(value, parent, expressionHolders(value, name, owner), 0)
  }

  /** Reduces an execution's root; a root that is one call reports its call hash. */
  async reduceRoot(value: unknown): Promise<{ value: unknown; callHash: string | null }> {
    const expression = expressionOf(value)
    if (expression?.kind !== "call") return { value: await this.reduce(value, null), callHash: null }
    const result = await this.#reduceCall(expression, null)
    return { value: result.value, callHash: result.callHash }
  }

  /** Promise.all, or in a dry run one that waits for every item (see settleAll). */
  #all<T>(promises: Promise<T>[]): Promise<T[]> {
    return this.settings.dryRun === undefined ? Promise.all(promises) : settleAll(promises)
  }

  /**
   * Rebuilds the containers of `holders` (those holding expressions) with their expressions
   * reduced; any other value is kept as it is. Synchronous up to the first container or call, so
   * an item of a fan-out costs no async frame of its own.
   */
  #reduceValue(value: unknown, parent: JobState | null, holders: ReadonlySet<object>, depth: number): Promise<unknown> | unknown {
    const expression = expressionOf(value)
    if (expression !== undefined) return this.#reduceExpression(expression, parent)
    if (typeof value !== "object" || value === null || !holders.has(value)) return value
    return this.#reduceContainer(value, parent, holders, depth)
  }

  async #reduceContainer(value: object, parent: JobState | null, holders: ReadonlySet<object>, depth: number): Promise<unknown> {
    // A value nested deep goes on from a fresh stack now and then, however deep it is.
    if (depth % STACK_RESET_DEPTH === STACK_RESET_DEPTH - 1) await null
    const reduce = (item: unknown) => {
      const reduced = this.#reduceValue(item, parent, holders, depth + 1)
      return reduced instanceof Promise ? reduced : Promise.resolve(reduced)
    }
    if (Array.isArray(value)) {
      if (this.settings.dryRun !== undefined) return reduceEveryItem(value, reduce)
      return mapWindowed(value, this.#window, reduce)
    }
    if (value instanceof Map) {
      const entries = await this.#all(Array.from(value, async ([k, v]) => [await reduce(k), await reduce(v)] as const))
      return new Map(entries)
    }
    if (value instanceof Set) return new Set(await this.#all(Array.from(value, reduce)))
    const keys = Object.keys(value)
    const reduced = await this.#all(keys.map((key) => reduce((value as Record<string, unknown>)[key])))
    const out: Record<string, unknown> = {}
    keys.forEach((key, i) => {
      setOwn(out, key, reduced[i])
    })
    return out
  }

  /** A call's value straight from its result (no async frame waits on it); any other kind below. */
  #reduceExpression(expression: Expression, parent: JobState | null): Promise<unknown> {
    if (expression.kind === "call") return this.#reduceCall(expression, parent).then(valueOfResult)
    return this.#reduceOtherExpression(expression, parent)
  }

  async #reduceOtherExpression(expression: Exclude<Expression, CallExpression>, parent: JobState | null): Promise<unknown> {
    switch (expression.kind) {
      case "get":
        return readKey(await this.#reduceNested(expression.target, parent, "target"), expression.key)
      case "cond": {
        const test = await this.#reduceNested(expression.test, parent, "test")
        return this.#reduceNested(test ? expression.then : expression.else, parent, "branch")
      }
      case "seq": {
        // A dry run goes on past an item that would run: the later ones only wait on it in time.
        if (this.settings.dryRun !== undefined)
          return reduceEveryItem(expression.items, async (item) => this.#reduceNested(item, parent, "item"))
        const values: unknown[] = []
        for (const item of expression.items) values.push(await this.#reduceNested(item, parent, "item"))
        return values
      }
      case "map": {
        const items = await this.#reduceNested(expression.items, parent, "items")
        if (!Array.isArray(items))
          throw new ReductioError("INVALID_ARGUMENT", `map(${expression.task}, items): items reduced to ${typeof items}, not an array`)
        const extra = (await this.#reduceNested(expression.extraArgs, parent, "extraArgs")) as unknown[]
        const leading = expression.leading ?? []
        const callItem = async (item: unknown) => {
          const call = makeExpression<CallExpression>({
            kind: "call",
            task: expression.task,
            args: [...leading, ...(expression.spread === true ? spreadItem(expression, item) : [item]), ...extra],
            options: expression.options,
          })
          return (await this.#reduceCall(call, parent)).value
        }
        if (this.settings.dryRun !== undefined) return this.#all(items.map(callItem))
        return mapWindowed(items, this.#window, callItem)
      }
      case "flatten": {
        const items = await this.#reduceNested(expression.items, parent, "items")
        if (!Array.isArray(items))
          throw new ReductioError("INVALID_ARGUMENT", `flatten(items): items reduced to ${typeof items}, not an array`)
        return items.flat(1)
      }
      case "catch":
        return this.#reduceCatch(expression, parent)
      case "apply": {
        const [target, args] = await this.#all([
          Promise.resolve(this.#reduceNested(expression.target, parent, "target")),
          Promise.resolve(this.#reduceNested(expression.args, parent, "args")),
        ])
        return this.#reduceNested(await applyTo(target, expression.method, args as unknown[]), parent, "result")
      }
      case "zip":
        return zipLists(await this.#reduceNested(expression.lists, parent, "lists"))
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
      return await this.#reduceNested(expression.body, parent, "body")
    } catch (error) {
      if (this.settings.signal.aborted || isWouldRun(error) || !matchesFilter(error, expression)) throw error
      // Failures are not cached: a rerun must try the failed call again, not replay the recovery.
      if (parent !== null) parent.replayable = false
      if (expression.handler === null) return this.#reduceNested(expression.fallback, parent, "fallback")
      const call = makeExpression<CallExpression>({
        kind: "call",
        task: expression.handler,
        args: [...(expression.handlerArgs ?? []), handlerErrorOf(error)],
        options: expression.handlerOptions,
      })
      return (await this.#reduceCall(call, parent)).value
    }
  }

  /**
   * Reduces a call. A call waiting (on its arguments, on a slot of the window, on its job) keeps
   * no async frame of its own but a callback: a map-reduce tree keeps every call waiting on its
   * arguments alive at once, and a suspended frame holds all its function's registers.
   */
  async #reduceCall(expression: CallExpression, parent: JobState | null): Promise<CallResult> {
    // Start every call on a fresh microtask: a chain 10,000 deep then never deepens the stack.
    await null
    const task = lookupTask(expression.task, DECLARE_AT_TOP_LEVEL)
    const reducing = this.#reduceArgs(expression, task, parent)
    // Most arguments hold no lazy value: those are used as they are, without waiting a turn.
    if (reducing instanceof Promise) return reducing.then((args) => this.#callWith(expression, task, args as unknown[], parent))
    return this.#callWith(expression, task, reducing as unknown[], parent)
  }

  /** A call of `task` on its reduced `args`: run, or shared with the same call in flight. */
  #callWith(expression: CallExpression, task: TaskDefinition, args: unknown[], parent: JobState | null): Promise<CallResult> {
    const preparing = prepareForEncoding(args)
    if (preparing !== undefined) return preparing.then(() => this.#callPrepared(expression, task, args, parent))
    return this.#callPrepared(expression, task, args, parent)
  }

  #callPrepared(expression: CallExpression, task: TaskDefinition, args: unknown[], parent: JobState | null): Promise<CallResult> {
    const encodedArgs = encode(args, "args")
    const argsHash = argsHashOf(encodedArgs)
    const context = this.#readContext(task)
    const evalHash = evalHashOf(task.hash, argsHash, context?.hash)
    const options = jobOptions(task, expression.options, this.settings.taskOptions[task.name], this.#routed(task))
    let result = this.#inflight.get(evalHash)
    if (result === undefined) {
      // A slot of the window, taken before the job exists (calls past it wait as little more than
      // their arguments, not as jobs) and held only while the call is evaluated (FanOutWindow.enter).
      const holding = this.settings.dryRun === undefined
      const waiting = holding ? this.#window.enter() : undefined
      const run = () => this.#runJob(task, args, encodedArgs, argsHash, evalHash, options, parent, context?.context, holding)
      result = waiting === undefined ? run() : waiting.then(run)
      this.#inflight.set(evalHash, result)
    }
    if (parent === null) return result
    return result.then((done) => {
      parent.children.push(done.callHash)
      // A call site asking for cache: false must run again next time, even when this run shared
      // the result of an identical call (or a replay): its parent's tree is not reusable whole.
      if (!done.replayable || options.cache === false) parent.replayable = false
      if (done.checked) parent.checked = true
      return done
    })
  }

  /** A call's arguments; in a dry run, a call whose arguments need calls that would run waits on them. */
  #reduceArgs(expression: CallExpression, task: TaskDefinition, parent: JobState | null): Promise<unknown> | unknown {
    const dryRun = this.settings.dryRun
    if (dryRun === undefined)
      return this.#reduceFlatArgs(expression, parent) ?? this.#reduceNested(expression.args, parent, "args", expression)
    if (!containsExpression(expression.args)) return this.#reduceNested(expression.args, parent, "args", expression)
    let waiting = this.#waiting.get(expression)
    if (waiting === undefined) {
      waiting = Promise.resolve(this.#reduceNested(expression.args, parent, "args", expression)).catch((error: unknown) => {
        throw isWouldRun(error) ? dryRun.waits(task, callLabel(task.name, expression.options?.name, parent?.task.name), error) : error
      })
      this.#waiting.set(expression, waiting)
    }
    return waiting
  }

  /**
   * The common case without walking the arguments: each is a plain scalar or itself a lazy value
   * (`add(inc(1), inc(2))`). Undefined when any is a container or anything else, which the
   * general walk reduces (and checks for cycles).
   */
  #reduceFlatArgs(expression: CallExpression, parent: JobState | null): readonly unknown[] | Promise<unknown[]> | undefined {
    const args = expression.args
    let lazy = false
    for (const arg of args) {
      if (arg === null || (typeof arg !== "object" && typeof arg !== "function")) continue
      const inner = expressionOf(arg)
      if (inner === undefined || inner === expression) return undefined
      lazy = true
    }
    if (!lazy) return args
    // A call's result straight from #reduceCall: no async frame of #reduceExpression waits on it
    // (a map-reduce tree keeps every call waiting on its arguments alive at once).
    let calls: boolean[] | undefined
    const reducing = args.map((arg, i) => {
      const inner = expressionOf(arg)
      if (inner === undefined) return arg
      if (inner.kind !== "call") return this.#reduceExpression(inner, parent)
      ;(calls ??= [])[i] = true
      return this.#reduceCall(inner, parent)
    })
    return Promise.all(reducing).then((values) => {
      if (calls !== undefined) for (let i = 0; i < values.length; i++) if (calls[i] === true) values[i] = (values[i] as CallResult).value
      return values
    })
  }

  /** Runs a call's job; `holding`: it holds a slot of the window, given back once it is evaluated. */
  async #runJob(
    task: TaskDefinition,
    args: unknown[],
    encodedArgs: Uint8Array,
    argsHash: string,
    evalHash: string,
    options: CallOptions,
    parent: JobState | null,
    context: TaskContext | undefined,
    holding: boolean,
  ): Promise<CallResult> {
    const leave = () => {
      if (holding) this.#window.leave()
      holding = false
    }
    let job: JobState
    try {
      job = new JobState(this.settings.id, ++this.#seq, parent?.seq ?? null, task, evalHash, argsHash, options.name ?? null)
      job.context = context
      if (encodedArgs.byteLength <= CALL_VALUE_BYTES) job.encodedArgs = encodedArgs
      if (options.cache === false) job.replayable = false
      if (parent?.noReplay === true) job.noReplay = true
      this.#recorder.task(task)
      this.#setStatus(job, "PENDING", undefined)
    } catch (error) {
      leave()
      throw error
    }
    try {
      let immediate: Immediate
      try {
        immediate = await this.#evaluate(job, parent, args, encodedArgs, options)
      } finally {
        leave()
      }
      if (immediate.undecoded === true) {
        const replayed = await this.#tryReplay(job, args, immediate, true)
        if (replayed !== undefined) return replayed
        immediate = await this.#decodeHit(job, parent, args, encodedArgs, options, immediate)
      }
      const expressions = containsExpression(immediate.value)
      const replayed = expressions ? await this.#tryReplay(job, args, immediate) : undefined
      if (replayed !== undefined) return replayed
      if (job.cached && expressions && namesUnregisteredTask(immediate.value)) {
        // A task declared inside this task's body is registered only when the body runs.
        job.cached = false
        immediate = await this.#evaluate(job, parent, args, encodedArgs, options, false)
      }
      if (immediate.checked) job.checked = true
      if (expressions) this.#setStatus(job, "WAITING", job.status)
      const value = expressions ? await this.#reduceNested(immediate.value, job, `result of ${task.name}`) : immediate.value
      const encoded = value === immediate.value ? immediate.bytes : encode(value, `result of ${task.name}`)
      const valueHash = value === immediate.value ? immediate.valueHash : valueHashOf(encoded)
      // The immediate value is recorded already (by #evaluate, or read from the cache).
      if (value !== immediate.value) this.#recorder.value(valueHash, encoded)
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
          ...(encodedArgs.byteLength <= CALL_VALUE_BYTES ? { argsBytes: encodedArgs } : {}),
          ...(encoded.byteLength <= CALL_VALUE_BYTES ? { valueBytes: encoded } : {}),
        })
      if (immediate.recordedCallHash !== callHash || immediate.recordedReplayable !== job.replayable)
        this.#recorder.evaluation({ evalHash, valueHash: immediate.valueHash, callHash, replayable: job.replayable })
      this.#recordLineage(args, immediate.value, callHash)
      this.#finish(job, job.cached ? "CACHED" : "DONE", callHash, null)
      // Only a call the cache can answer may be forgotten (a cache: false call is shared in memory).
      if (this.settings.cache && options.cache !== false && this.settings.dryRun === undefined) this.#recorder.afterWrite(evalHash)
      return { value, callHash, replayable: job.replayable, checked: job.checked }
    } catch (error) {
      if (isWouldRun(error)) throw error
      const failure = taskErrorOf(job, error, args, parent?.task.name, this.settings.id)
      this.#finish(job, isReductioError(failure, "CANCELLED") ? "CANCELLED" : "FAILED", null, failure)
      throw failure
    }
  }

  /**
   * Call replay for a cache hit whose result names calls: its recorded tree, if it holds.
   * `undecoded`: the hit's value is not decoded (nor its Files checked) yet.
   */
  async #tryReplay(job: JobState, args: unknown[], immediate: Immediate, undecoded = false): Promise<CallResult | undefined> {
    const callHash = immediate.recordedCallHash
    if (job.noReplay || immediate.recordedReplayable !== true || !callHash) return undefined
    const replayed = await replayCallTree(job, callHash, this.#replayContext, { uncheckedRoot: undecoded })
    if (replayed === undefined) return undefined
    if (this.settings.dryRun !== undefined) this.settings.dryRun.cached += job.reusedCalls ?? 0
    this.#recordLineage(args, immediate.value, callHash)
    this.#finish(job, "CACHED", callHash, null)
    return { value: replayed.value, callHash, replayable: true, checked: replayed.checked }
  }

  /**
   * An undecoded hit whose tree did not replay, decoded. When a File in it changed, the call is
   * evaluated as after any invalid hit (looked up again, and run).
   */
  async #decodeHit(
    job: JobState,
    parent: JobState | null,
    args: unknown[],
    encodedArgs: Uint8Array,
    options: CallOptions,
    hit: Immediate,
  ): Promise<Immediate> {
    const decoded = await decodeIfValid(hit.bytes)
    if (decoded !== INVALID) return { ...hit, value: decoded.value, checked: decoded.checked, undecoded: false }
    job.cached = false
    return this.#evaluate(job, parent, args, encodedArgs, options, true, false)
  }

  /**
   * The task function's immediate result: from the cache when valid, else from its executor.
   * `undecoded`: a hit that names calls may come back undecoded (see {@link Immediate.undecoded}).
   */
  async #evaluate(
    job: JobState,
    parent: JobState | null,
    args: unknown[],
    encodedArgs: Uint8Array,
    options: CallOptions,
    useCache = true,
    undecoded = true,
  ): Promise<Immediate> {
    const caching = useCache && this.settings.cache && options.cache !== false
    // A call a replay reused has the value the replay read: a call-site cache: false shares it,
    // as it would share the result of an identical call reduced earlier in this execution.
    const cacheOn = useCache && (caching || this.#replayContext.reused.has(job.evalHash))
    const dryRun = this.settings.dryRun
    let invalid: Uint8Array | undefined
    if (cacheOn) {
      // A dry run claims nothing: it runs no call.
      const cached = await this.#fromCache(job, caching && dryRun === undefined, undecoded && dryRun === undefined, (bytes) => {
        invalid = bytes
      })
      if (cached !== undefined) {
        if (dryRun !== undefined) dryRun.cached++
        return cached
      }
    }
    if (dryRun !== undefined) {
      const cacheOff = cacheOn ? undefined : this.settings.cache ? "the task or its call site says cache: false" : "--no-cache"
      const label = callLabel(job.task.name, job.name, parent?.task.name)
      throw await dryRun.miss({ task: job.task, label, args, evalHash: job.evalHash }, { cacheOff, invalid })
    }
    // Small arguments go with the job's rows that name them and with its call node (JobState.encodedArgs).
    if (encodedArgs.byteLength > CALL_VALUE_BYTES) this.#recorder.value(job.argsHash, encodedArgs)
    try {
      const outcome = await this.#runner.execute(job, args, encodedArgs, options)
      if (outcome.status === "failed") throw outcome
      const preparing = prepareForEncoding(outcome.value)
      if (preparing !== undefined) await preparing
      const bytes = encode(outcome.value, `result of ${job.task.name}`)
      const valueHash = valueHashOf(bytes)
      this.#recorder.value(valueHash, bytes)
      this.#recorder.evaluation({ evalHash: job.evalHash, valueHash })
      return { value: outcome.value, bytes, valueHash, checked: holdsCheckedValue(outcome.value) }
    } finally {
      // After the evaluation is buffered, so the release goes out in its batch (or a later one):
      // no other host finds the call free with no result recorded.
      if (job.leased) {
        job.leased = false
        this.#leases?.release(job.evalHash)
      }
    }
  }

  /**
   * A valid cache hit, or undefined when the call must run. With call leases, a miss claims the
   * call first: held by another execution, it waits for that one's result (or takes the call over
   * when its lease expires); when that execution recorded the result meanwhile, it looks again.
   */
  async #fromCache(
    job: JobState,
    claim: boolean,
    undecoded: boolean,
    onInvalid: (bytes: Uint8Array) => void,
  ): Promise<Immediate | undefined> {
    let recheck = false
    for (;;) {
      const hit = (await this.#batcher.lookup(job.evalHash)).get(job.evalHash)
      // A hit that names a replayable call tree is not decoded yet: a replay takes the tree's final
      // value, and decoding first would build every call the value names only to drop them (a
      // cached 1,000,000-call fan-out: a million expressions alive at its peak).
      const later = undecoded && hit?.replayable === true && !!hit.callHash && !job.noReplay && mayHoldExpressions(hit.bytes)
      const decoded = hit === undefined ? INVALID : later ? NOT_DECODED : await decodeIfValid(hit.bytes)
      if (hit !== undefined && decoded !== INVALID) {
        // The arguments were stored with the evaluation this hit comes from.
        job.cached = true
        // Stored under its hash, it is not written again; held by its call's row, it is when a
        // row names it by hash.
        if (hit.valueInCall !== true) this.#recorder.knownValue(hit.valueHash)
        return {
          value: decoded.value,
          bytes: hit.bytes,
          valueHash: hit.valueHash,
          checked: decoded.checked,
          recordedCallHash: hit.callHash,
          recordedReplayable: hit.replayable,
          ...(later ? { undecoded: true } : {}),
        }
      }
      if (hit !== undefined && decoded === INVALID) onInvalid(hit.bytes)
      if (!claim || this.#leases === undefined) return undefined
      // An unusable hit (a File in it changed), or an evaluation the lookup cannot read: run it anyway.
      const outcome = await this.#leases.claim(job.evalHash, hit === undefined && !recheck)
      if (outcome === "cancelled") throw CANCELLED_OUTCOME
      if (outcome === "claimed") {
        job.leased = true
        return undefined
      }
      recheck = true
    }
  }

  /** Tells batching executors there is no more ready work, once this turn's work has settled. */
  #scheduleIdle(): void {
    if (this.#idleScheduled) return
    this.#idleScheduled = true
    setImmediate(() => {
      this.#idleScheduled = false
      if (this.#batcher.busy || this.#leases?.busy === true) return
      for (const executor of Object.values(this.settings.executors)) executor.idle?.()
    })
  }

  /** The options the run's routing rules give a task, once per task. */
  #routed(task: TaskDefinition): CallOptions | undefined {
    const routing = this.settings.routing
    if (routing === undefined) return undefined
    if (!this.#routes.has(task)) this.#routes.set(task, routing(task))
    return this.#routes.get(task)
  }

  /** The context a task reads in this run and its hash, once per task; undefined when it reads none. */
  #readContext(task: TaskDefinition): { context: TaskContext; hash: string } | undefined {
    if (this.#contexts.has(task)) return this.#contexts.get(task)
    const context = taskContextFor(task, this.settings.context)
    const read = context === undefined ? undefined : { context, hash: contextHashOf(encode(context.values, `context of ${task.name}`)) }
    this.#contexts.set(task, read)
    return read
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
    // A row with a call hash takes its arguments from the call node.
    if (callHash !== null) job.encodedArgs = undefined
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

function valueOfResult(result: CallResult): unknown {
  return result.value
}

/** A dry run records nothing. */
const DISCARD = { write: async () => {} }

const DECLARE_AT_TOP_LEVEL =
  " (a task declared inside another task's body exists only in the process where that body ran: declare tasks at a module's top level)"

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

/** How many levels of a nested value reduce on one stack before going on from a fresh one. */
const STACK_RESET_DEPTH = 512
