/**
 * @module lookup-batcher
 * Collects cache lookups made within one turn of the event loop and answers them with one
 * backend query, so a fan-out of 10,000 calls costs a handful of queries, not 10,000. Every
 * lookup of a turn waits on the same answer (the turn's hits by eval hash), so a lookup costs
 * an entry in a set, not a promise and its resolvers of its own.
 */
import type { Backend, CachedEvaluation } from "../backend/backend.js"

/** The hits of one turn's lookups, by eval hash (a hash without one has no usable entry). */
export type LookupAnswer = ReadonlyMap<string, CachedEvaluation>

interface Turn {
  readonly keys: Set<string>
  readonly answer: Promise<LookupAnswer>
  readonly resolve: (answer: LookupAnswer) => void
  readonly reject: (error: unknown) => void
}

export class LookupBatcher {
  #pending: Turn | undefined
  #inFlight = 0

  constructor(
    private readonly backend: Backend,
    private readonly onSettled: () => void,
    private readonly maxBatch = 5000,
  ) {}

  /** True while lookups are queued or being answered. */
  get busy(): boolean {
    return this.#pending !== undefined || this.#inFlight > 0
  }

  /** Asks for `evalHash`'s cache entry: `(await lookup(hash)).get(hash)`, undefined on a miss. */
  lookup(evalHash: string): Promise<LookupAnswer> {
    let turn = this.#pending
    if (turn === undefined) {
      let resolve: Turn["resolve"] = () => {}
      let reject: Turn["reject"] = () => {}
      const answer = new Promise<LookupAnswer>((ok, fail) => {
        resolve = ok
        reject = fail
      })
      turn = this.#pending = { keys: new Set(), answer, resolve, reject }
      setImmediate(() => this.#flush())
    }
    turn.keys.add(evalHash)
    return turn.answer
  }

  #flush(): void {
    const turn = this.#pending
    if (turn === undefined) return
    this.#pending = undefined
    const keys = [...turn.keys]
    const chunks: Promise<Map<string, CachedEvaluation>>[] = []
    for (let start = 0; start < keys.length; start += this.maxBatch) {
      chunks.push(this.backend.loadEvaluations(keys.slice(start, start + this.maxBatch)))
    }
    this.#inFlight++
    Promise.all(chunks)
      .then((found) => {
        if (found.length === 1) return turn.resolve(found[0] as LookupAnswer)
        const all = new Map<string, CachedEvaluation>()
        for (const part of found) for (const [key, hit] of part) all.set(key, hit)
        turn.resolve(all)
      }, turn.reject)
      .finally(() => {
        this.#inFlight--
        this.onSettled()
      })
  }
}
