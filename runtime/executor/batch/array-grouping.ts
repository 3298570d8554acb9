/**
 * @module array-grouping
 * Collects submitted calls into groups that can share one array job: same job definition, same
 * resources, same timeout. Coalescing is adaptive, never a fixed wait:
 * - a group goes out when the executor reports the scheduler has no more ready work (`flushAll`,
 *   from `idle()`), at the largest array size, or after a maximum delay (a backstop for a scheduler
 *   that keeps finding work);
 * - while a submission of the same key is in flight, its key's new calls wait and go out together
 *   as soon as it ends (so a dependent wave that trickles in while SubmitJob runs becomes one array,
 *   not one job per call).
 */

/** Options of a {@link Grouper}. */
export interface GrouperOptions<T> {
  /** Largest group (AWS: 10,000 children per array). */
  readonly maxSize: number
  /** Longest a call waits for `flushAll`, in ms. */
  readonly maxDelayMs: number
  /** Receives each group, in submission order; the key's next group waits until the promise settles. */
  readonly flush: (key: string, items: T[]) => Promise<void> | void
}

/** Largest array AWS Batch accepts. */
export const MAX_ARRAY_SIZE = 10_000

/**
 * @example
 * const grouper = new Grouper({ maxSize: 10_000, maxDelayMs: 2_000, flush: (key, calls) => submitGroup(key, calls) })
 * grouper.add(keyOf(call), call)
 * grouper.flushAll()   // on the scheduler's idle()
 */
export class Grouper<T> {
  readonly #groups = new Map<string, T[]>()
  /** Submissions in flight, by key. */
  readonly #inFlight = new Map<string, number>()
  /** Keys whose group was due (flushAll) while a submission of theirs was in flight. */
  readonly #due = new Set<string>()
  #timer: NodeJS.Timeout | undefined

  constructor(private readonly options: GrouperOptions<T>) {}

  add(key: string, item: T): void {
    let group = this.#groups.get(key)
    if (group === undefined) {
      group = []
      this.#groups.set(key, group)
    }
    group.push(item)
    if (group.length >= Math.min(this.options.maxSize, MAX_ARRAY_SIZE)) this.#send(key, group)
    if (this.#groups.size > 0) this.#timer ??= setTimeout(() => this.flushAll(), this.options.maxDelayMs)
  }

  /** Removes an item not flushed yet (a cancelled call); false when it already went out. */
  remove(key: string, item: T): boolean {
    const group = this.#groups.get(key)
    const index = group?.indexOf(item) ?? -1
    if (group === undefined || index < 0) return false
    group.splice(index, 1)
    if (group.length === 0) this.#groups.delete(key)
    return true
  }

  /** Sends every group now, except those whose key has a submission in flight: they go when it ends. */
  flushAll(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    for (const [key, items] of [...this.#groups]) {
      if ((this.#inFlight.get(key) ?? 0) > 0) this.#due.add(key)
      else this.#send(key, items)
    }
  }

  /** Groups waiting (not sent yet). */
  get waiting(): number {
    return this.#groups.size
  }

  /** Drops every pending item and returns them. */
  drain(): T[] {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    const items = [...this.#groups.values()].flat()
    this.#groups.clear()
    this.#due.clear()
    return items
  }

  #send(key: string, items: T[]): void {
    this.#groups.delete(key)
    this.#due.delete(key)
    this.#inFlight.set(key, (this.#inFlight.get(key) ?? 0) + 1)
    const done = () => {
      const left = (this.#inFlight.get(key) ?? 1) - 1
      if (left > 0) this.#inFlight.set(key, left)
      else this.#inFlight.delete(key)
      const next = this.#groups.get(key)
      if (left === 0 && this.#due.has(key) && next !== undefined) this.#send(key, next)
    }
    try {
      void Promise.resolve(this.options.flush(key, items)).then(done, done)
    } catch {
      done()
    }
  }
}
