/**
 * @module semaphore
 * A counting semaphore and the named concurrency limits built on it.
 */
import { ReductioError } from "../errors.js"

/** A counting semaphore with FIFO waiters. */
export class Semaphore {
  #available: number
  readonly #waiters: { need: number; resolve: () => void }[] = []

  constructor(readonly capacity: number) {
    this.#available = capacity
  }

  /**
   * Holds `units` (at most the capacity, so a large request cannot wait forever). Returns
   * undefined when they were free at once, so the hot path allocates no promise.
   */
  acquire(units = 1): Promise<void> | undefined {
    const need = Math.min(units, this.capacity)
    if (this.#waiters.length === 0 && this.#available >= need) {
      this.#available -= need
      return undefined
    }
    return new Promise((resolve) => this.#waiters.push({ need, resolve }))
  }

  release(units = 1): void {
    this.#available += Math.min(units, this.capacity)
    for (let next = this.#waiters[0]; next !== undefined && this.#available >= next.need; next = this.#waiters[0]) {
      this.#waiters.shift()
      this.#available -= next.need
      next.resolve()
    }
  }
}

/** A task's declared use of named limits: `["db"]` (one unit each) or `{ db: 2 }`. */
export type LimitUse = Readonly<Record<string, number>> | readonly string[]

/** Named concurrency limits shared by every job of an execution. */
export class Limits {
  readonly #semaphores = new Map<string, Semaphore>()

  constructor(readonly capacities: Readonly<Record<string, number>>) {
    for (const [name, capacity] of Object.entries(capacities)) this.#semaphores.set(name, new Semaphore(capacity))
  }

  /** Normalizes a use to `[name, units]` pairs, checking every name is defined. */
  resolve(use: LimitUse | undefined, taskName: string): [Semaphore, number][] {
    if (use === undefined) return []
    const pairs: [string, number][] = Array.isArray(use) ? use.map((name) => [name, 1]) : Object.entries(use as Record<string, number>)
    pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return pairs.map(([name, units]) => {
      const semaphore = this.#semaphores.get(name)
      if (semaphore === undefined) {
        const known = Object.keys(this.capacities)
        throw new ReductioError(
          "CONFIG_INVALID",
          `task ${taskName} uses the limit "${name}", which is not defined; define it in reductio.config.ts (limits: { ${name}: 1 })${known.length > 0 ? `; defined limits: ${known.join(", ")}` : ""}`,
        )
      }
      return [semaphore, units]
    })
  }

  /** Acquires every pair in a fixed (name) order, so two tasks cannot deadlock each other. */
  async acquire(pairs: readonly [Semaphore, number][]): Promise<void> {
    for (const [semaphore, units] of pairs) await semaphore.acquire(units)
  }

  release(pairs: readonly [Semaphore, number][]): void {
    for (const [semaphore, units] of pairs) semaphore.release(units)
  }
}
