/**
 * @module lookup-batcher
 * Collects cache lookups made within one turn of the event loop and answers them with one
 * backend query, so a fan-out of 10,000 calls costs a handful of queries, not 10,000.
 */
import type { Backend, CachedEvaluation } from "../backend/backend.js"

interface Waiter {
  readonly resolve: (found: CachedEvaluation | undefined) => void
  readonly reject: (error: unknown) => void
}

export class LookupBatcher {
  #pending = new Map<string, Waiter[]>()
  #scheduled = false
  #inFlight = 0

  constructor(
    private readonly backend: Backend,
    private readonly onSettled: () => void,
    private readonly maxBatch = 5000,
  ) {}

  /** True while lookups are queued or being answered. */
  get busy(): boolean {
    return this.#pending.size > 0 || this.#inFlight > 0
  }

  lookup(evalHash: string): Promise<CachedEvaluation | undefined> {
    return new Promise((resolve, reject) => {
      const waiters = this.#pending.get(evalHash)
      if (waiters === undefined) this.#pending.set(evalHash, [{ resolve, reject }])
      else waiters.push({ resolve, reject })
      if (!this.#scheduled) {
        this.#scheduled = true
        setImmediate(() => this.#flush())
      }
    })
  }

  #flush(): void {
    this.#scheduled = false
    const batch = this.#pending
    this.#pending = new Map()
    const keys = [...batch.keys()]
    for (let start = 0; start < keys.length; start += this.maxBatch) {
      const chunk = keys.slice(start, start + this.maxBatch)
      this.#inFlight++
      this.backend
        .loadEvaluations(chunk)
        .then(
          (found) => {
            for (const key of chunk) for (const waiter of batch.get(key) ?? []) waiter.resolve(found.get(key))
          },
          (error: unknown) => {
            for (const key of chunk) for (const waiter of batch.get(key) ?? []) waiter.reject(error)
          },
        )
        .finally(() => {
          this.#inFlight--
          this.onSettled()
        })
    }
  }
}
