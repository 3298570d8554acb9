/**
 * @module memory-backend
 * A Backend held in memory: for tests, embedding and throwaway runs. Same contract as SQLite.
 */
import type {
  Backend,
  CachedEvaluation,
  CallRecord,
  ExecutionQuery,
  ExecutionRecord,
  FileUseRecord,
  JobRecord,
  JobView,
  TaskRecord,
  WriteBatch,
} from "./backend.js"

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
  readonly #calls = new Map<string, CallRecord>()
  readonly #jobs = new Map<string, Map<number, JobRecord>>()
  readonly #files: FileUseRecord[] = []

  async open(): Promise<void> {}
  async close(): Promise<void> {}

  async write(batch: WriteBatch): Promise<void> {
    for (const e of batch.executions ?? []) this.#executions.set(e.id, e)
    for (const t of batch.tasks ?? []) if (!this.#tasks.has(t.hash)) this.#tasks.set(t.hash, t)
    for (const v of batch.values ?? []) if (!this.#values.has(v.hash)) this.#values.set(v.hash, v.bytes)
    for (const e of batch.evaluations ?? []) this.#evaluations.set(e.evalHash, e.valueHash)
    for (const c of batch.calls ?? []) if (!this.#calls.has(c.callHash)) this.#calls.set(c.callHash, c)
    for (const j of batch.jobs ?? []) {
      let jobs = this.#jobs.get(j.executionId)
      if (jobs === undefined) this.#jobs.set(j.executionId, (jobs = new Map()))
      jobs.set(j.seq, j)
    }
    for (const f of batch.files ?? []) this.#files.push(f)
  }

  async loadEvaluations(evalHashes: readonly string[]): Promise<Map<string, CachedEvaluation>> {
    const found = new Map<string, CachedEvaluation>()
    for (const evalHash of evalHashes) {
      const valueHash = this.#evaluations.get(evalHash)
      const bytes = valueHash === undefined ? undefined : this.#values.get(valueHash)
      if (valueHash !== undefined && bytes !== undefined) found.set(evalHash, { valueHash, bytes })
    }
    return found
  }

  async getValue(hash: string): Promise<Uint8Array | undefined> {
    return this.#values.get(hash)
  }

  async listExecutions(query: ExecutionQuery = {}): Promise<ExecutionRecord[]> {
    const all = [...this.#executions.values()].sort((a, b) => (a.id < b.id ? 1 : -1))
    return all.slice(0, query.limit ?? all.length)
  }

  async getExecution(idOrPrefix: string): Promise<ExecutionRecord | undefined> {
    const exact = this.#executions.get(idOrPrefix)
    if (exact !== undefined) return exact
    const matches = [...this.#executions.values()].filter((e) => e.id.startsWith(idOrPrefix))
    return matches.length === 1 ? matches[0] : undefined
  }

  async listJobs(executionId: string): Promise<JobView[]> {
    const jobs = [...(this.#jobs.get(executionId)?.values() ?? [])].sort((a, b) => a.seq - b.seq)
    return jobs.map((job) => ({ ...job, taskName: this.#tasks.get(job.taskHash)?.name ?? "?" }))
  }

  async getTask(hash: string): Promise<TaskRecord | undefined> {
    return this.#tasks.get(hash)
  }

  async getCall(callHash: string): Promise<CallRecord | undefined> {
    return this.#calls.get(callHash)
  }
}
