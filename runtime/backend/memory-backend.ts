/**
 * @module memory-backend
 * A Backend held in memory: for tests, embedding and throwaway runs. Same contract as SQLite.
 */
import { ReductioError } from "../errors.js"
import type {
  Backend,
  CachedEvaluation,
  CallRecord,
  CallTree,
  ContentRequest,
  ExpectedCall,
  TreeCall,
  ExecutionQuery,
  ExecutionRecord,
  ExecutionView,
  FileUseRecord,
  JobCounts,
  JobParent,
  JobQuery,
  JobRecord,
  JobStatus,
  JobView,
  LeaseClaim,
  LeaseClaims,
  LeaseUpdate,
  TaskRecord,
  WriteBatch,
} from "./backend.js"
import { ABANDONED_MESSAGE, LEGACY_EXECUTION_LEASE_MS } from "./backend.js"

/**
 * @example
 * const scheduler = new Scheduler({ backend: new MemoryBackend() })
 */
export class MemoryBackend implements Backend {
  readonly description = "memory"
  readonly #executions = new Map<string, ExecutionRecord>()
  readonly #tasks = new Map<string, TaskRecord>()
  readonly #values = new Map<string, Uint8Array>()
  readonly #evaluations = new Map<string, string>()
  /** Per eval hash: the call its latest entry names, and whether that allows replay. */
  readonly #evaluationCalls = new Map<string, { readonly callHash: string | null; readonly replayable: boolean }>()
  readonly #calls = new Map<string, CallRecord>()
  readonly #jobs = new Map<string, Map<number, JobRecord>>()
  readonly #files = new Map<string, FileUseRecord>()
  readonly #tags = new Map<string, Map<string, string>>()
  readonly #leases = new Map<string, { holder: string; expiresAt: number }>()

  async open(): Promise<void> {}
  async close(): Promise<void> {}

  async write(batch: WriteBatch): Promise<void> {
    for (const { leaseExpiresAt, callLeases, ...e } of batch.executions ?? []) {
      const { id, startedAt, endedAt, status, command, rootCallHash, error } = e
      // As the SQL backends store and read them back: a view's tags are not part of the row, and
      // lease fields are absent when null.
      this.#executions.set(id, {
        id,
        startedAt,
        endedAt,
        status,
        command,
        rootCallHash,
        error,
        ...(leaseExpiresAt == null ? {} : { leaseExpiresAt }),
        ...(callLeases == null ? {} : { callLeases }),
      })
    }
    for (const t of batch.tasks ?? []) if (!this.#tasks.has(t.hash)) this.#tasks.set(t.hash, t)
    for (const v of batch.values ?? []) if (!this.#values.has(v.hash)) this.#values.set(v.hash, v.bytes)
    for (const e of batch.evaluations ?? []) {
      this.#evaluations.set(e.evalHash, e.valueHash)
      this.#evaluationCalls.set(e.evalHash, { callHash: e.callHash ?? null, replayable: e.replayable === true })
    }
    for (const c of batch.calls ?? []) {
      if (this.#calls.has(c.callHash)) continue
      // Kept under their hashes, as every value here: the record holds no bytes.
      const { argsBytes, valueBytes, ...call } = c
      if (argsBytes !== undefined && !this.#values.has(c.argsHash)) this.#values.set(c.argsHash, argsBytes)
      if (valueBytes !== undefined && !this.#values.has(c.valueHash)) this.#values.set(c.valueHash, valueBytes)
      this.#calls.set(c.callHash, call)
    }
    for (const { argsBytes, ...j } of batch.jobs ?? []) {
      if (argsBytes !== undefined && j.argsHash != null && !this.#values.has(j.argsHash)) this.#values.set(j.argsHash, argsBytes)
      let jobs = this.#jobs.get(j.executionId)
      if (jobs === undefined) this.#jobs.set(j.executionId, (jobs = new Map()))
      jobs.set(j.seq, j)
    }
    for (const f of batch.files ?? []) this.#files.set(`${f.path}\u0000${f.callHash}\u0000${f.role}\u0000${f.fileHash}`, f)
    for (const t of batch.tags ?? []) {
      let tags = this.#tags.get(t.executionId)
      if (tags === undefined) this.#tags.set(t.executionId, (tags = new Map()))
      tags.set(t.key, t.value)
    }
    if (batch.leases !== undefined) this.#updateLeases(batch.leases)
  }

  #updateLeases({ holder, release, renewUntil, acquire }: LeaseUpdate): void {
    for (const evalHash of acquire?.evalHashes ?? [])
      if (!this.#leases.has(evalHash)) this.#leases.set(evalHash, { holder, expiresAt: acquire?.expiresAt ?? 0 })
    const released = release === "all" ? undefined : new Set(release ?? [])
    for (const [evalHash, lease] of this.#leases) {
      if (lease.holder !== holder) continue
      if (released === undefined || released.has(evalHash)) this.#leases.delete(evalHash)
      else if (renewUntil !== undefined) lease.expiresAt = renewUntil
    }
  }

  async claimLeases(claim: LeaseClaim): Promise<LeaseClaims> {
    const claimed: string[] = []
    const takenOver = new Map<string, string>()
    const held = new Map<string, { holder: string; expiresAt: number }>()
    for (const evalHash of new Set(claim.evalHashes)) {
      const lease = this.#leases.get(evalHash)
      if (lease !== undefined && lease.holder !== claim.holder && lease.expiresAt >= claim.now) {
        held.set(evalHash, { ...lease })
        continue
      }
      if (claim.unlessEvaluated !== false && this.#evaluations.has(evalHash)) continue
      if (lease !== undefined && lease.holder !== claim.holder) takenOver.set(evalHash, lease.holder)
      this.#leases.set(evalHash, { holder: claim.holder, expiresAt: claim.expiresAt })
      claimed.push(evalHash)
    }
    return { claimed, takenOver, held }
  }

  async runningExecutions(now: number): Promise<ExecutionRecord[]> {
    return [...this.#executions.values()].filter((e) => e.status === "RUNNING" && (e.leaseExpiresAt ?? -1) >= now)
  }

  async abandonStaleExecutions(now: number): Promise<string[]> {
    const abandoned: string[] = []
    for (const execution of this.#executions.values()) {
      const expiresAt = execution.leaseExpiresAt ?? execution.startedAt + LEGACY_EXECUTION_LEASE_MS
      if (execution.status !== "RUNNING" || expiresAt >= now) continue
      abandoned.push(execution.id)
      this.#executions.set(execution.id, {
        ...execution,
        status: "ABANDONED",
        endedAt: execution.leaseExpiresAt ?? now,
        error: ABANDONED_MESSAGE,
      })
      for (const [seq, job] of this.#jobs.get(execution.id) ?? []) {
        if (job.status === "PENDING" || job.status === "RUNNING" || job.status === "WAITING")
          this.#jobs.get(execution.id)?.set(seq, { ...job, status: "ABANDONED", endedAt: now })
      }
      this.#updateLeases({ holder: execution.id, release: "all" })
    }
    return abandoned
  }

  async loadEvaluations(evalHashes: readonly string[]): Promise<Map<string, CachedEvaluation>> {
    const found = new Map<string, CachedEvaluation>()
    for (const evalHash of evalHashes) {
      const valueHash = this.#evaluations.get(evalHash)
      const bytes = valueHash === undefined ? undefined : this.#values.get(valueHash)
      if (valueHash !== undefined && bytes !== undefined)
        found.set(evalHash, { valueHash, bytes, callHash: null, replayable: false, ...this.#evaluationCalls.get(evalHash) })
    }
    return found
  }

  async getValue(hash: string): Promise<Uint8Array | undefined> {
    return this.#values.get(hash)
  }

  async listExecutions(query: ExecutionQuery = {}): Promise<ExecutionView[]> {
    const [key, value] = query.tag === undefined ? [] : splitTag(query.tag)
    const tagged = (e: ExecutionRecord) => {
      if (key === undefined) return true
      const found = this.#tags.get(e.id)?.get(key)
      return found !== undefined && (value === undefined || found === value)
    }
    const ranTask = (e: ExecutionRecord) =>
      query.taskName === undefined ||
      [...(this.#jobs.get(e.id)?.values() ?? [])].some((job) => this.#tasks.get(job.taskHash)?.name === query.taskName)
    const all = [...this.#executions.values()]
      .filter((e) => tagged(e) && e.id.startsWith(query.idPrefix ?? "") && (query.status === undefined || e.status === query.status))
      .filter(ranTask)
      .sort((a, b) => (a.id < b.id ? 1 : -1))
    const offset = query.offset ?? 0
    return Promise.all(all.slice(offset, query.limit === undefined ? undefined : offset + query.limit).map((e) => this.#view(e)))
  }

  async getExecution(idOrPrefix: string): Promise<ExecutionView | undefined> {
    const exact = this.#executions.get(idOrPrefix)
    if (exact !== undefined) return this.#view(exact)
    const matches = idOrPrefix === "" ? [] : [...this.#executions.values()].filter((e) => e.id.startsWith(idOrPrefix))
    return matches.length === 1 && matches[0] !== undefined ? this.#view(matches[0]) : undefined
  }

  async #view(execution: ExecutionRecord): Promise<ExecutionView> {
    return { ...execution, tags: await this.getTags(execution.id) }
  }

  async jobParents(executionId: string): Promise<JobParent[]> {
    return (await this.findJobs({ executionId })).map((job) => ({ seq: job.seq, parentSeq: job.parentSeq }))
  }

  async listJobs(executionId: string): Promise<JobView[]> {
    return (await this.findJobs({ executionId })).map((job) => (job.callHash === null ? job : { ...job, argsHash: null }))
  }

  async findJobs(query: JobQuery): Promise<JobView[]> {
    if (query.evalHashPrefix !== undefined && !/^[0-9a-f]{1,64}$/.test(query.evalHashPrefix))
      throw new ReductioError(
        "INVALID_ARGUMENT",
        `an eval hash prefix is 1 to 64 lowercase hex digits (got ${JSON.stringify(query.evalHashPrefix.slice(0, 80))})`,
      )
    const executions =
      query.executionId === undefined
        ? [...this.#jobs.keys()].sort().reverse()
        : this.#jobs.has(query.executionId)
          ? [query.executionId]
          : []
    const matches = (job: JobRecord) =>
      (query.seq === undefined || job.seq === query.seq) &&
      (query.seqs === undefined || query.seqs.includes(job.seq)) &&
      (query.parentSeq === undefined || job.parentSeq === query.parentSeq) &&
      (query.status === undefined || job.status === query.status) &&
      (query.callHash === undefined || job.callHash === query.callHash) &&
      (query.evalHashPrefix === undefined || job.evalHash.startsWith(query.evalHashPrefix)) &&
      (query.taskName === undefined || this.#tasks.get(job.taskHash)?.name === query.taskName)
    const found = executions.flatMap((id) => [...(this.#jobs.get(id)?.values() ?? [])].sort((a, b) => a.seq - b.seq).filter(matches))
    const offset = query.offset ?? 0
    return found.slice(offset, query.limit === undefined ? undefined : offset + query.limit).map((job) => this.#jobView(job))
  }

  /** A job as the SQL backends read it back. */
  #jobView({ reusedCalls, executorJobId, image, ...job }: JobRecord): JobView {
    return {
      ...job,
      ...(executorJobId == null ? {} : { executorJobId }),
      ...(image == null ? {} : { image }),
      bodyEndedAt: job.bodyEndedAt ?? null,
      argsHash: (job.callHash === null ? job.argsHash : this.#calls.get(job.callHash)?.argsHash) ?? null,
      name: job.name ?? null,
      executor: job.executor ?? null,
      // Absent unless the job reused calls.
      ...(reusedCalls == null ? {} : { reusedCalls }),
      taskName: this.#tasks.get(job.taskHash)?.name ?? "?",
    }
  }

  async countJobs(executionId: string): Promise<JobCounts> {
    const byStatus: Partial<Record<JobStatus, number>> = {}
    let jobs = 0
    let reusedCalls = 0
    for (const job of this.#jobs.get(executionId)?.values() ?? []) {
      byStatus[job.status] = (byStatus[job.status] ?? 0) + 1
      jobs++
      reusedCalls += job.reusedCalls ?? 0
    }
    return { jobs, byStatus, reusedCalls }
  }

  async tasksNamed(name: string): Promise<TaskRecord[]> {
    return [...this.#tasks.values()].filter((t) => t.name === name)
  }

  async getTask(hash: string): Promise<TaskRecord | undefined> {
    return this.#tasks.get(hash)
  }

  async loadCallTree(callHash: string): Promise<CallTree | undefined> {
    const root = this.#calls.get(callHash)
    const bytes = root === undefined ? undefined : this.#values.get(root.valueHash)
    if (root === undefined || bytes === undefined) return undefined
    const seen = new Set<string>()
    const calls: TreeCall[] = []
    const edges = root.children.map((child) => [root.callHash, child] as const)
    const checkedValues = new Map<string, Uint8Array>()
    const stack = [...root.children]
    while (stack.length > 0) {
      const hash = stack.pop() as string
      if (seen.has(hash)) continue
      seen.add(hash)
      const call = this.#calls.get(hash)
      if (call === undefined) return undefined
      calls.push({ callHash: call.callHash, taskHash: call.taskHash, argsHash: call.argsHash })
      if (call.checked !== false) {
        for (const hash of [call.valueHash, call.argsHash]) {
          const value = this.#values.get(hash)
          if (value === undefined) return undefined
          checkedValues.set(hash, value)
        }
      }
      for (const child of call.children) edges.push([call.callHash, child] as const)
      for (const child of call.children) stack.push(child)
    }
    return {
      valueHash: root.valueHash,
      bytes,
      calls,
      edges: async () => edges,
      checkedValues: [...checkedValues.values()],
      rootChecked: root.checked !== false,
    }
  }

  async unreplayableCalls(calls: readonly ExpectedCall[]): Promise<ReadonlySet<number>> {
    const failing = new Set<number>()
    calls.forEach((call, i) => {
      const entry = this.#evaluationCalls.get(call.evalHash)
      if (entry?.callHash !== call.callHash || !entry.replayable) failing.add(i)
    })
    return failing
  }

  async getCall(callHash: string): Promise<CallRecord | undefined> {
    return this.#calls.get(callHash)
  }

  async getTags(executionId: string): Promise<Record<string, string>> {
    const tags = [...(this.#tags.get(executionId) ?? [])].sort(([a], [b]) => (a < b ? -1 : 1))
    return Object.fromEntries(tags)
  }

  async removeTags(executionId: string, keys: readonly string[]): Promise<void> {
    for (const key of keys) this.#tags.get(executionId)?.delete(key)
  }

  async readContent(request: ContentRequest): Promise<WriteBatch> {
    const pick = <T>(hashes: readonly string[] | undefined, get: (hash: string) => T | undefined): T[] =>
      [...new Set(hashes ?? [])].flatMap((hash) => {
        const found = get(hash)
        return found === undefined ? [] : [found]
      })
    const calls = new Set(request.filesOfCalls ?? [])
    return {
      tasks: pick(request.tasks, (hash) => this.#tasks.get(hash)),
      values: pick(request.values, (hash) => {
        const bytes = this.#values.get(hash)
        return bytes === undefined ? undefined : { hash, bytes }
      }),
      evaluations: pick(request.evaluations, (evalHash) => {
        const valueHash = this.#evaluations.get(evalHash)
        return valueHash === undefined ? undefined : { evalHash, valueHash, ...this.#evaluationCalls.get(evalHash) }
      }),
      calls: pick(request.calls, (hash) => this.#calls.get(hash)),
      files: [...this.#files.values()].filter((f) => calls.has(f.callHash)),
    }
  }

  async fileUses(path: string): Promise<(FileUseRecord & { taskName: string; executionId: string | null; at: number | null })[]> {
    const uses = [...this.#files.values()].filter((f) => f.path === path)
    return uses
      .map((use) => {
        const call = this.#calls.get(use.callHash)
        const jobs = [...this.#jobs.values()].flatMap((byseq) => [...byseq.values()]).filter((j) => j.callHash === use.callHash)
        const first = jobs.sort((a, b) => a.createdAt - b.createdAt)[0]
        return {
          ...use,
          taskName: (call === undefined ? undefined : this.#tasks.get(call.taskHash)?.name) ?? "?",
          executionId: first?.executionId ?? null,
          at: first?.createdAt ?? null,
        }
      })
      .sort((a, b) => (b.at ?? -1) - (a.at ?? -1))
  }
}

function splitTag(tag: string): [string, string | undefined] {
  const at = tag.indexOf("=")
  return at < 0 ? [tag, undefined] : [tag.slice(0, at), tag.slice(at + 1)]
}
