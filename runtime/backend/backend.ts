/**
 * @module backend
 * The seam between the scheduler and where the cache and provenance live (in memory, SQLite,
 * Postgres). Writes arrive in batches, each applied in one transaction; content-addressed rows
 * (tasks, values, evaluations, calls, edges) are insert-if-absent, so replays are idempotent.
 */

/**
 * Status of an execution (one `reductio run`). ABANDONED: it was RUNNING when its host stopped
 * renewing its lease (killed, crashed, lost), as found by {@link Backend.abandonStaleExecutions}.
 */
export type ExecutionStatus = "RUNNING" | "DONE" | "FAILED" | "CANCELLED" | "ABANDONED"
/**
 * Status of a job (one call within an execution): PENDING (created: looking up the cache, waiting
 * for a limit), RUNNING (submitted to its executor), WAITING (its body returned calls: waiting on
 * those children), then DONE, CACHED, FAILED or CANCELLED; ABANDONED: unfinished in an abandoned
 * execution.
 */
export type JobStatus = "PENDING" | "RUNNING" | "WAITING" | "DONE" | "CACHED" | "FAILED" | "CANCELLED" | "ABANDONED"

export interface ExecutionRecord {
  /** Globally unique (time-ordered) id. */
  readonly id: string
  readonly startedAt: number
  readonly endedAt: number | null
  readonly status: ExecutionStatus
  /** What was run, e.g. `run examples/hello.ts main --name Ada`. */
  readonly command: string
  /** The call hash of the root call when it finished. */
  readonly rootCallHash: string | null
  /** The error message when the execution failed. */
  readonly error: string | null
  /**
   * While RUNNING: until when its host vouches for it (ms since the epoch). The host renews it
   * every heartbeat; past it, the execution counts as abandoned. Null or absent: not known (rows
   * written before migration 0005 count from `startedAt`, see {@link LEGACY_EXECUTION_LEASE_MS}).
   */
  readonly leaseExpiresAt?: number | null
  /**
   * Whether it takes call leases: true, it does; false, it runs alone and takes them once another
   * execution appears (others wait until it does); null or absent, it takes none.
   */
  readonly callLeases?: boolean | null
}

/**
 * The largest value a SQL backend keeps in its call's own row ({@link CallRecord.valueBytes}): a
 * trivial call's result takes 5 to 30 bytes, and the node, read by every cache lookup, stays
 * under 200.
 */
export const CALL_VALUE_BYTES = 64

/** How long a RUNNING execution recorded without a lease (by a reductio before 0005) counts as alive. */
export const LEGACY_EXECUTION_LEASE_MS = 60 * 60 * 1000
/** The error an abandoned execution is recorded with. */
export const ABANDONED_MESSAGE = "abandoned: its host stopped renewing its lease (killed, crashed or cut off)"

export interface JobRecord {
  readonly executionId: string
  /** 1-based sequence within the execution. */
  readonly seq: number
  readonly parentSeq: number | null
  readonly taskHash: string
  readonly evalHash: string
  readonly callHash: string | null
  readonly status: JobStatus
  readonly cached: boolean
  /** When the scheduler created the job (its arguments reduced), ms since the epoch. */
  readonly createdAt: number
  /**
   * When its body started on its executor, as the executor reported it (a local call, an agent
   * process, a Batch container); null when no body ran (cached, or it failed or was cancelled
   * before it started). `startedAt - createdAt` is the time it waited.
   */
  readonly startedAt: number | null
  /** When its body ended on its executor; null when no body ran or it is still running. */
  readonly bodyEndedAt?: number | null
  /** When the job ended: its value fully reduced, its children included. */
  readonly endedAt: number | null
  /** The error record as JSON, for failed jobs. */
  readonly error: string | null
  /** The call's args hash: its arguments are the value stored under it. */
  readonly argsHash?: string | null
  /** The name the call site gave the call (`script(command, { name })`), shown instead of its task's. */
  readonly name?: string | null
  /** The configured executor its body was submitted to (`local`, `batch`...); null when none was (cached). */
  readonly executor?: string | null
  /**
   * For a job whose result came from replaying a recorded call tree (see
   * {@link Backend.loadCallTree}): how many calls below it were reused without a job of their own.
   */
  readonly reusedCalls?: number | null
  /** The executor's own id for the job (an AWS Batch job id, `<parent>:<index>` in an array). */
  readonly executorJobId?: string | null
  /** The container image the job ran, pinned by digest (`repo@sha256:…`). */
  readonly image?: string | null
  /**
   * Written only (readers leave it out): the encoded arguments of a row without a call hash, which
   * names them by `argsHash`; a backend stores them under it with the row. A writer may give them
   * in the batch's `values` instead.
   */
  readonly argsBytes?: Uint8Array
}

/** A job with its task's name, for listings. */
export interface JobView extends JobRecord {
  readonly taskName: string
  /**
   * The call's args hash. {@link Backend.findJobs} reads a finished job's from its call node;
   * {@link Backend.listJobs}, which reads a whole execution, only the row's (jobs without a call
   * hash): a finished job's is then null (find it with findJobs({ executionId, seqs })).
   */
  readonly argsHash: string | null
  readonly bodyEndedAt: number | null
  readonly name: string | null
  readonly executor: string | null
}

/** An execution with its tags, as listings read it. */
export interface ExecutionView extends ExecutionRecord {
  readonly tags: Readonly<Record<string, string>>
}

/** Which jobs {@link Backend.findJobs} returns; every field narrows the selection. */
export interface JobQuery {
  /** Jobs of this execution (in seq order); otherwise of every execution, newest first. */
  readonly executionId?: string
  readonly seq?: number
  /** Any of these seqs (with `executionId`). */
  readonly seqs?: readonly number[]
  /** Children of this job (with `executionId`); `null`: the roots. */
  readonly parentSeq?: number | null
  /**
   * Lowercase hex, 1 to 64 digits. The SQL backends hash every finished job whose row leaves its
   * eval hash to its call node, so this scans the jobs (of `executionId`, when given).
   */
  readonly evalHashPrefix?: string
  /** The task's full name. */
  readonly taskName?: string
  /** Jobs that reduced to this call (a full call hash); with `executionId` it reads that execution's jobs. */
  readonly callHash?: string
  readonly status?: JobStatus
  readonly limit?: number
  readonly offset?: number
}

/** Where a job sits in its execution's tree. */
export interface JobParent {
  readonly seq: number
  readonly parentSeq: number | null
}

/** How many jobs an execution has, per status, and how many calls were reused below them. */
export interface JobCounts {
  readonly jobs: number
  readonly byStatus: Readonly<Partial<Record<JobStatus, number>>>
  /** Recorded calls reused whole below cached jobs (call replay): cached calls with no job. */
  readonly reusedCalls: number
}

export interface TaskRecord {
  readonly hash: string
  readonly name: string
  readonly source: string
  readonly version: string | null
}

export interface ValueRecord {
  readonly hash: string
  readonly bytes: Uint8Array
}

/** The cache entry of one call: eval hash → the task function's immediate result. */
export interface EvaluationRecord {
  readonly evalHash: string
  readonly valueHash: string
  /**
   * The call hash the call reduced to, once known. Its call node and edges were written with
   * this row, so a cached call that reduces to the same call hash need not write them again.
   */
  readonly callHash?: string | null
  /**
   * True when the call tree under `callHash` can be reused whole on a later run: no call in it
   * skipped the cache or recovered from an error (a rerun retries those). Files in it are checked
   * when it is reused ({@link CallTree.checkedValues}). Absent or false: a cached rerun reduces
   * the calls one by one.
   */
  readonly replayable?: boolean
}

/** A provenance node: a finished call with its fully reduced value and its child calls. */
export interface CallRecord {
  readonly callHash: string
  readonly taskHash: string
  readonly argsHash: string
  readonly valueHash: string
  readonly children: readonly string[]
  /**
   * Whether the value or the arguments hold something a reuse must check first (a File, through
   * its codec's `validate`); absent when unknown (recorded before this was kept).
   */
  readonly checked?: boolean
  /**
   * The encoded arguments when at most {@link CALL_VALUE_BYTES}, kept in the call's own row by a
   * SQL backend (migration 0012); without them, they are stored by hash (`values`, now or before).
   * Readers return them when the call's row holds them.
   */
  readonly argsBytes?: Uint8Array
  /**
   * The encoded value when at most {@link CALL_VALUE_BYTES}, kept in the call's own row by a SQL
   * backend (migration 0012). It is still given in the batch's `values` (or an earlier batch's) as
   * every value is; a SQL backend then leaves it out of its by-hash rows unless another row of the
   * batch names it by hash. Readers return it when the call's row holds it.
   */
  readonly valueBytes?: Uint8Array
}

/** Where a file was seen: produced by (`output`) or given to (`input`) a call. */
export interface FileUseRecord {
  readonly path: string
  readonly fileHash: string
  readonly callHash: string
  readonly role: "input" | "output"
  /**
   * The execution of the job that made the call, and when that job started: lineage's "who and
   * when". Optional on write: the SQL backends take it from the batch's job with this call hash.
   * The first recorded use keeps it (later replays of the call do not move it).
   */
  readonly executionId?: string | null
  readonly at?: number | null
}

/** A label on an execution (`reductio tag <id> env=prod`); one value per key. */
export interface TagRecord {
  readonly executionId: string
  readonly key: string
  readonly value: string
}

/** Rows to write in one transaction. */
export interface WriteBatch {
  readonly executions?: readonly ExecutionRecord[]
  readonly tasks?: readonly TaskRecord[]
  readonly values?: readonly ValueRecord[]
  readonly evaluations?: readonly EvaluationRecord[]
  readonly calls?: readonly CallRecord[]
  /** Upserted by (executionId, seq): the latest state wins. */
  readonly jobs?: readonly JobRecord[]
  readonly files?: readonly FileUseRecord[]
  /** Upserted by (executionId, key). */
  readonly tags?: readonly TagRecord[]
  /** Call leases this batch releases or renews (see {@link Backend.claimLeases}). */
  readonly leases?: LeaseUpdate
}

/**
 * What a batch does to one holder's call leases, in its transaction: a released lease goes with
 * the batch that records the call's evaluation, so another host never sees neither.
 */
export interface LeaseUpdate {
  /** The execution holding the leases. */
  readonly holder: string
  /** Eval hashes whose leases the holder gives up; `"all"`: every lease it holds. */
  readonly release?: readonly string[] | "all"
  /** Extends every other lease the holder still holds to this time (ms since the epoch). */
  readonly renewUntil?: number
  /**
   * Leases the holder takes without a claim (until `renewUntil`, else this batch's expiry): the
   * calls it was running alone when another execution appeared. One another holder has is left.
   */
  readonly acquire?: { readonly evalHashes: readonly string[]; readonly expiresAt: number }
}

/** A request to take call leases (see {@link Backend.claimLeases}). */
export interface LeaseClaim {
  readonly holder: string
  readonly evalHashes: readonly string[]
  /** The holder's clock: leases that expired before it may be taken over. */
  readonly now: number
  readonly expiresAt: number
  /**
   * False: claim even where an evaluation exists (the caller found it unusable, e.g. a File in it
   * changed). Default true: a call with an evaluation is not claimed.
   */
  readonly unlessEvaluated?: boolean
}

/** What a {@link LeaseClaim} got. */
export interface LeaseClaims {
  /** Eval hashes whose lease the holder holds now; for each, no evaluation existed once it held it. */
  readonly claimed: readonly string[]
  /** Of `claimed`, those taken over from another holder whose lease had expired, with that holder. */
  readonly takenOver: ReadonlyMap<string, string>
  /** Not claimed because another holder's lease is live: that holder and its expiry. */
  readonly held: ReadonlyMap<string, { readonly holder: string; readonly expiresAt: number }>
  /** The rest is not claimed because an evaluation exists: look it up again. */
}

/** Which content-addressed rows to read back (see {@link Backend.readContent}). */
export interface ContentRequest {
  readonly tasks?: readonly string[]
  readonly values?: readonly string[]
  /** By eval hash. */
  readonly evaluations?: readonly string[]
  readonly calls?: readonly string[]
  /** File uses of these call hashes. */
  readonly filesOfCalls?: readonly string[]
  /**
   * Calls whose own rows may hold some of `values` (see {@link CallRecord.valueBytes}): those come
   * back in `values` too.
   */
  readonly valuesOfCalls?: readonly string[]
}

/** A cache hit: the immediate result of a call, encoded. */
export interface CachedEvaluation {
  readonly valueHash: string
  readonly bytes: Uint8Array
  /** The call hash recorded with the evaluation, if any (see {@link EvaluationRecord.callHash}). */
  readonly callHash?: string | null
  /** See {@link EvaluationRecord.replayable}. */
  readonly replayable?: boolean
  /**
   * True when the bytes came from the call's own row ({@link CallRecord.valueBytes}), not from a
   * value stored under its hash: a row that names the value by hash must write it again.
   */
  readonly valueInCall?: boolean
}

/** A call a replay expects its cache entry to name (see {@link Backend.unreplayableCalls}). */
export interface ExpectedCall {
  readonly evalHash: string
  readonly callHash: string
}

/** A call below the root of a {@link CallTree}. */
export interface TreeCall {
  readonly callHash: string
  readonly taskHash: string
  readonly argsHash: string
}

/** A recorded call with everything below it, as call replay needs it. */
export interface CallTree {
  /** The call's fully reduced value. */
  readonly valueHash: string
  readonly bytes: Uint8Array
  /** The distinct calls below the root (the root itself excluded), in no particular order. */
  readonly calls: readonly TreeCall[]
  /**
   * Every parent → child edge among the root and those calls. Read on demand: a replay needs them
   * only to place a call that fails a check (or one already started in this execution).
   */
  readonly edges: () => Promise<readonly (readonly [parent: string, child: string])[]>
  /**
   * The distinct values and arguments of calls below the root that hold something to check before
   * reuse (or may: {@link CallRecord.checked} unknown), encoded. The root's own value is `bytes`.
   */
  readonly checkedValues: readonly Uint8Array[]
  /**
   * Whether the root's own arguments or value may hold something to check before reuse
   * ({@link CallRecord.checked} true or unknown). A replay tried before the root's cached value is
   * decoded (and its Files checked) applies only when this is false.
   */
  readonly rootChecked: boolean
  /** True when `bytes` came from the root's own row (see {@link CachedEvaluation.valueInCall}). */
  readonly valueInCall?: boolean
}

export interface ExecutionQuery {
  readonly limit?: number
  /** Only executions carrying this tag (`key` or `key=value`). */
  readonly tag?: string
  /** Only executions whose id starts with this. */
  readonly idPrefix?: string
  /** Only executions with this status. */
  readonly status?: ExecutionStatus
  /** Only executions with a job of this task (its full name); reads those executions' jobs. */
  readonly taskName?: string
  /** Skips this many (newest first), for paging; SQLite needs `limit` with it, which the backends supply. */
  readonly offset?: number
}

/**
 * Cache and provenance store.
 *
 * Contract: `open` creates or upgrades the schema (or fails with DB_SCHEMA_NEWER / DB_UNREADABLE)
 * and must be called before anything else; `write` is atomic and idempotent; reads see every
 * completed write.
 */
export interface Backend {
  /** A short description for messages (`sqlite:.reductio/reductio.db`). */
  readonly description: string
  open(): Promise<void>
  close(): Promise<void>
  write(batch: WriteBatch): Promise<void>
  /** Looks up many eval hashes at once; missing ones are absent from the map. */
  loadEvaluations(evalHashes: readonly string[]): Promise<Map<string, CachedEvaluation>>
  /**
   * Which of `calls` a replay cannot reuse: the indexes of those whose cache entry (at `evalHash`)
   * is missing, names another call than `callHash`, or does not allow replay. Call replay checks a
   * whole tree at once (100,000 calls for a fan-out): the database compares, and only the few that
   * fail come back. Backends without it answer through loadEvaluations.
   */
  unreplayableCalls?(calls: readonly ExpectedCall[]): Promise<ReadonlySet<number>>
  /**
   * The value under `hash`. `ofCall`: a call whose arguments or value it is, whose own row may hold
   * it (see {@link CallRecord.valueBytes}); without it, such a value is not found by its hash alone.
   */
  getValue(hash: string, ofCall?: string): Promise<Uint8Array | undefined>
  /** Newest first, with their tags. */
  listExecutions(query?: ExecutionQuery): Promise<ExecutionView[]>
  /** By full id or unique prefix (undefined when none or several match), with its tags. */
  getExecution(idOrPrefix: string): Promise<ExecutionView | undefined>
  /** In sequence order; finished jobs' `argsHash` null (see {@link JobView.argsHash}). */
  listJobs(executionId: string): Promise<JobView[]>
  /**
   * Jobs matching every field of `query`: of one execution in seq order, else newest execution
   * first (then by seq). Filters on eval hash, task or status read every job row (no index).
   */
  findJobs?(query: JobQuery): Promise<JobView[]>
  /** An execution's jobs counted by status, with the calls reused below them. */
  countJobs?(executionId: string): Promise<JobCounts>
  /**
   * The shape of an execution's job tree: each job's seq and parent, in seq order. Two integers a
   * row, so a truncated tree of a 100,000-job execution reads only the rows it shows in full.
   */
  jobParents?(executionId: string): Promise<JobParent[]>
  /** The recorded versions of a task name (for "edited task" in a dry run). */
  tasksNamed?(name: string): Promise<TaskRecord[]>
  getTask?(hash: string): Promise<TaskRecord | undefined>
  getCall?(callHash: string): Promise<CallRecord | undefined>
  /**
   * A recorded call's final value and the tasks of every call below it, read in one go, so a
   * cached rerun can reuse a whole call tree without visiting its calls. Undefined when the call
   * or its value is not recorded. Backends without it reduce cached trees call by call.
   */
  loadCallTree?(callHash: string): Promise<CallTree | undefined>
  /** Tags of an execution, by key. */
  getTags?(executionId: string): Promise<Record<string, string>>
  /** Removes tags by key; absent keys are ignored. */
  removeTags?(executionId: string, keys: readonly string[]): Promise<void>
  /**
   * Reads content-addressed rows in bulk, as a batch another backend can `write` (push / pull).
   * Rows that are absent are left out.
   */
  readContent?(request: ContentRequest): Promise<WriteBatch>
  /** Uses of a file path, newest first (lineage). */
  fileUses?(path: string): Promise<(FileUseRecord & { taskName: string; executionId: string | null; at: number | null })[]>
  /**
   * Call leases between hosts sharing this store: takes, for `holder`, the lease of each eval hash
   * that has neither a live lease of another holder nor (unless `unlessEvaluated` is false) an
   * evaluation; an expired lease is taken over, the holder's own lease is extended. Atomic per
   * hash against concurrent claims and writes: of two hosts, one claims; a host that claims after
   * another recorded the evaluation (and released its lease in that batch) does not. Backends
   * without it give no cross-host exclusion (each host runs what it finds uncached).
   */
  claimLeases?(claim: LeaseClaim): Promise<LeaseClaims>
  /**
   * Marks every RUNNING execution whose lease expired before `now` as ABANDONED (ended at its
   * lease's expiry), with its PENDING and RUNNING jobs, and drops the call leases it held.
   * Returns their ids (none: nothing was written). A host that is alive after all renews its
   * row to RUNNING with its next heartbeat.
   */
  abandonStaleExecutions?(now: number): Promise<string[]>
  /** The RUNNING executions whose lease has not expired at `now` (for call leases: who else runs). */
  runningExecutions?(now: number): Promise<ExecutionRecord[]>
}
